"""`lne quantize` as a user runs it: the analysis report, and clean failures on bad input."""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest

from ..conftest import lne_cli
from .nets import calib_batch, tiny


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny(fragile=True), path)
    np.save(tmp_path / "calib.npy", calib_batch(32))
    return path


def test_analyze_writes_model_report_and_chart(tmp_path, model):
    out = tmp_path / "out" / "tiny.q.onnx"
    r = lne_cli("quantize", model, "--calib", tmp_path / "calib.npy", "--analyze", "--min-sqnr", "20",
                "-o", out)
    assert r.returncode == 0, r.stderr
    assert "conv2" in r.stdout and "SQNR" in r.stdout
    rep = json.loads((tmp_path / "out" / "tiny.q.quant.json").read_text())
    assert rep["plan"]["float_layers"] == ["conv2"] and rep["plan"]["meets_budget"]
    assert rep["float_top1"] is None and rep["budget"] == {"min_sqnr_db": 20.0}
    assert (tmp_path / "out" / "tiny.q.sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask     # an ordinary file, not mkstemp's 0600
    q = onnx.load(out)
    onnx.checker.check_model(q)
    conv2 = next(n for n in q.graph.node if n.name == "conv2")
    assert conv2.input[1] == "w2"    # kept in float by the plan


@pytest.mark.parametrize("args,message", [
    (["--calib", "{d}/missing.h5"], "no such file"),
    (["--calib", "{d}/empty"], "no .npy files"),
    (["--calib", "{d}/bad.npy"], "does not fit model input 'x'"),
    (["--calib", "{d}/calib.npy", "--keep-float", "nope"], "--keep-float 'nope': not a quantizable layer"),
    (["--calib", "{d}/calib.npy", "--mode", "int16", "--reduce-range"], "--reduce-range is for int8"),
])
def test_bad_input_exit_2_and_no_output(tmp_path, model, args, message):
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "bad.npy", np.zeros((4, 3, 3), np.float32))
    out = tmp_path / "q.onnx"
    r = lne_cli("quantize", model, *[a.format(d=tmp_path) for a in args], "--analyze", "-o", out)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob("*.quant.json")) and not list(tmp_path.glob(".lne-quant-*"))


def test_python_reader_by_name(tmp_path, model):
    """--calib module:attr loads a CalibrationDataReader-style class from the current folder."""
    (tmp_path / "my_reader.py").write_text(
        "import numpy as np\n"
        "class Reader:\n"
        "    def __init__(self):\n"
        "        self.x = list(np.load('calib.npy')[:, None])\n"
        "    def get_next(self):\n"
        "        return {'x': self.x.pop()} if self.x else None\n")
    r = lne_cli("quantize", model, "--calib", "my_reader:Reader", "-o", "q.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on 32 samples from Reader" in r.stderr
    onnx.checker.check_model(onnx.load(tmp_path / "q.onnx"))


def test_reduce_range_weights_and_onnxruntime_fused_kernels(tmp_path, model):
    """--reduce-range: every int8 weight channel spans [-64, 64] (the largest |q| is 64), and
    onnxruntime's default session (fused int8 kernels) then equals LNE's integer semantics: its
    output is within one step of the model run as written."""
    from lne.quant.qdq import expose_last_activation
    from .nets import ort_exact

    out = tmp_path / "q.onnx"
    r = lne_cli("quantize", model, "--calib", tmp_path / "calib.npy", "--reduce-range", "-o", out)
    assert r.returncode == 0, r.stderr
    q = onnx.load(out)
    weights = [onnx.numpy_helper.to_array(i) for i in q.graph.initializer
               if i.data_type == onnx.TensorProto.INT8 and len(i.dims) >= 2]
    assert len(weights) == 3
    for w in weights:
        amax = np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).max(axis=1)
        assert set(amax[amax > 0].tolist()) == {64}
    import onnxruntime as ort

    exposed, name, step = expose_last_activation(q)
    x = {"x": calib_batch(1, seed=5)}
    fused = ort.InferenceSession(exposed.SerializeToString(), providers=["CPUExecutionProvider"]).run([name], x)[0]
    written = ort_exact(exposed, x)[-1]
    assert np.abs(np.rint((fused.astype(np.float64) - written) / step)).max() <= 1
