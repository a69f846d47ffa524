"""`lne compile --quantize int8 --calib ...`: quantizes, compiles the QDQ model, keeps it in the bundle;
the LNE build computes what onnxruntime computes for that QDQ model."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from ..conftest import lne_cli
from .nets import calib_batch, tiny


def test_compile_quantize_matches_onnxruntime(tmp_path):
    import lne

    onnx.save(tiny(), tmp_path / "tiny.onnx")
    np.save(tmp_path / "calib.npy", calib_batch(16))
    r = lne_cli("compile", tmp_path / "tiny.onnx", "--quantize", "int8", "--calib", tmp_path / "calib.npy",
                "-o", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    qdq = tmp_path / "bundle" / "tiny.int8.qdq.onnx"
    assert {n.op_type for n in onnx.load(qdq).graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC   # exact QDQ semantics
    ref = ort.InferenceSession(str(qdq), so, providers=["CPUExecutionProvider"])
    sess = lne.InferenceSession(tmp_path / "bundle")
    x = calib_batch(4, seed=7)
    for i in range(4):
        np.testing.assert_allclose(sess.run(None, {"x": x[i:i + 1]})[0], ref.run(None, {"x": x[i:i + 1]})[0],
                                   atol=1e-5)


def test_compile_quantize_needs_calib(tmp_path):
    onnx.save(tiny(), tmp_path / "tiny.onnx")
    r = lne_cli("compile", tmp_path / "tiny.onnx", "--quantize", "int8", "-o", tmp_path / "bundle")
    assert r.returncode == 2 and "--quantize and --calib go together" in r.stderr
    assert not (tmp_path / "bundle").exists()
