"""`lne compile --quantize int8 --calib ...`: quantizes, compiles the QDQ model, keeps it in the bundle;
the LNE build computes what onnxruntime computes for that QDQ model."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

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


@pytest.mark.parametrize("mode", ["int8", "int16"])
def test_float_output_gemm_stays_integer(mode, tmp_path):
    """A Gemm whose output stays float (the logits, before Softmax) runs as an integer QGemm with a
    float output: its weights are stored as int8 / int16, the packed and the reference kernels
    agree bit for bit, and both match onnxruntime (the QDQ model as written)."""
    import lne
    from lne.compiler import compile_model, load_model
    from lne.passes import run as run_passes
    from lne.quant import quantize
    from lne.session import find_manifest
    from lne.targets import get as get_target

    onnx.save(tiny(), tmp_path / "tiny.onnx")
    np.save(tmp_path / "calib.npy", calib_batch(16))
    quantize(tmp_path / "tiny.onnx", tmp_path / "q.onnx", str(tmp_path / "calib.npy"), mode=mode)
    g = load_model(tmp_path / "q.onnx")
    run_passes(g, {"isa": get_target("host").isa})
    fc = next(n for n in g.nodes if n.op == "QGemm")
    assert g.tensors[fc.outputs[0]].dtype == "float32" and g.tensors[fc.inputs[1]].dtype == mode
    assert "Gemm" not in {n.op for n in g.nodes}
    packed = compile_model(tmp_path / "q.onnx", tmp_path / "packed")
    ref = compile_model(tmp_path / "q.onnx", tmp_path / "ref", plan={fc.name: f"qgemm_{mode}_ref"})
    assert {n["kernel"] for n in find_manifest(packed)["nodes"] if n["op"] == "QGemm"} <= \
        {"qgemm_int8_packed", "qgemm_int16_packed__avx2", "qgemm_int16_ref"}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    want_sess = ort.InferenceSession(str(tmp_path / "q.onnx"), so, providers=["CPUExecutionProvider"])
    a, b = lne.InferenceSession(packed), lne.InferenceSession(ref)
    x = calib_batch(4, seed=9)
    for i in range(4):
        feeds = {"x": x[i:i + 1]}
        np.testing.assert_array_equal(a.run(None, feeds)[0], b.run(None, feeds)[0])
        np.testing.assert_allclose(a.run(None, feeds)[0], want_sess.run(None, feeds)[0], atol=1e-5)


def test_compile_exact_flag(tmp_path):
    """`lne compile --exact` builds the QDQ model on exact integer kernels only."""
    from lne.session import find_manifest

    onnx.save(tiny(), tmp_path / "tiny.onnx")
    np.save(tmp_path / "calib.npy", calib_batch(16))
    r = lne_cli("compile", tmp_path / "tiny.onnx", "--quantize", "int8", "--calib", tmp_path / "calib.npy", "--exact",
                "-o", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    kernels = [n["kernel"] for n in find_manifest(tmp_path / "bundle")["nodes"]]
    assert sum(k.startswith("qconv2d_int8") for k in kernels) == 2
    assert not any("f32_winograd" in k for k in kernels)
