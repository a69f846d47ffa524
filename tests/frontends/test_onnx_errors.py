"""Bad input: a clear error naming the file / node / tensor, exit code 2, nothing written."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ..conftest import lne_cli, ort_run


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _raw_tensor(name, dims, raw: bytes = b"", floats=None):
    """A FLOAT TensorProto built by hand: onnx.helper refuses the malformed ones we need."""
    t = onnx.TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    if floats is not None:
        t.float_data.extend(floats)
    else:
        t.raw_data = raw
    return t


def _relu_model():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [1, 3])], [_vi("y", None)])


def _fails(tmp_path, model_path, *needles, extra=()):
    out = tmp_path / "out"
    r = lne_cli("compile", model_path, "-o", out, *extra)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert not out.exists(), "a failed compile left output behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "temporary folder left behind"
    return r.stderr


def _save(tmp_path, m, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(m.SerializeToString())
    return p


def test_not_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("this is not a model\n" * 10)
    _fails(tmp_path, p, str(p), "not a valid ONNX model")


def test_truncated(tmp_path):
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 64])], [_vi("y", None)], [w])
    data = m.SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    _fails(tmp_path, p, str(p))


def test_missing_file(tmp_path):
    _fails(tmp_path, tmp_path / "nope.onnx", "nope.onnx")


def test_unsupported_ops_all_listed(tmp_path):
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="erf_1"),
             helper.make_node("Erf", ["a"], ["b"], name="erf_2"),
             helper.make_node("Cos", ["b"], ["c"], name="cosine"),
             helper.make_node("Relu", ["c"], ["y"], name="fine")]
    err = _fails(tmp_path, _save(tmp_path, _model(nodes, [_vi("x", [1, 3])], [_vi("y", None)])),
                 "2 unsupported op type(s)", "Erf", "'erf_1'", "'erf_2'", "Cos", "'cosine'")
    assert "Relu" not in err


def test_cycle(tmp_path):
    nodes = [helper.make_node("Add", ["x", "t2"], ["t1"], name="add"),
             helper.make_node("Relu", ["t1"], ["t2"], name="relu")]
    _fails(tmp_path, _save(tmp_path, _model(nodes, [_vi("x", [1, 3])], [_vi("t2", None)])), "cycle")


def test_undefined_input(tmp_path):
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]
    _fails(tmp_path, _save(tmp_path, _model(nodes, [_vi("x", [1, 3])], [_vi("y", None)])), "'ghost'", "'add'")


def test_initializer_shorter_than_shape(tmp_path):
    w = _raw_tensor("w", [4, 4], np.ones(10, np.float32).tobytes())
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", None)], [w])
    _fails(tmp_path, _save(tmp_path, m), "'w'", "holds 10 values", "needs 16")


def test_initializer_float_data_short(tmp_path):
    w = _raw_tensor("w", [2, 3], floats=[1.0, 2.0])
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 2])], [_vi("y", None)], [w])
    _fails(tmp_path, _save(tmp_path, m), "'w'", "needs 6")


@pytest.mark.parametrize("shape", [[1, -3, 4], [1, 0, 4]])
def test_non_positive_input_dim(tmp_path, shape):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", shape)], [_vi("y", None)])
    _fails(tmp_path, _save(tmp_path, m), "'x'", "non-positive")


def test_negative_initializer_dim(tmp_path):
    w = _raw_tensor("w", [4, -1])
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", None)], [w])
    _fails(tmp_path, _save(tmp_path, m), "'w'", "negative")


def test_external_data_outside_folder(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(16, np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    w = _raw_tensor("w", [4, 4])
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../secret.bin"), ("offset", "0"), ("length", "64")):
        e = w.external_data.add()
        e.key, e.value = k, v
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", None)], [w])
    _fails(tmp_path, _save(folder, m), "outside the model's folder")


def test_external_data_inside_folder_works(tmp_path):
    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 4])], [_vi("y", None)], [w])
    onnx.save_model(m, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    r = lne_cli("compile", tmp_path / "m.onnx", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr


def test_symbolic_dim_needs_input_shape(tmp_path, compile_run):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N", 3])], [_vi("y", None)])
    p = _save(tmp_path, m)
    _fails(tmp_path, p, "symbolic dimension 'N'", "--input-shape")
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    (y,), _ = compile_run(p, {"x": x}, input_shapes={"x": (2, 3)})
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_bad_opset(tmp_path):
    m = _relu_model()
    m.opset_import[0].version = 5
    _fails(tmp_path, _save(tmp_path, m), "opset 5")


def test_refuses_to_overwrite_foreign_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    r = lne_cli("compile", _save(tmp_path, _relu_model()), "-o", out)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert (out / "precious.txt").read_text() == "keep me"


INJECT = [
    'x"); system("touch /tmp/pwned"); //',
    "t */ #error injected\n#include </etc/passwd>",
    "n\\\nint evil = 1;",
    "${jinja} {{ 7*7 }} {% raw %}",
]


def test_crafted_names_do_not_reach_code(tmp_path, compile_run):
    x_name, mid, out_name = INJECT[0], INJECT[1], INJECT[2]
    w = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), INJECT[3])
    nodes = [helper.make_node("MatMul", [x_name, INJECT[3]], [mid], name=INJECT[1]),
             helper.make_node("Relu", [mid], [out_name], name=INJECT[3])]
    m = _model(nodes, [_vi(x_name, [2, 3])], [_vi(out_name, None)], [w])
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    (y,), sess = compile_run(m, {x_name: x})
    np.testing.assert_allclose(y, ort_run(m.SerializeToString(), {x_name: x})[0], rtol=1e-6)
    for path in [*sess.bundle.glob("*.h"), *sess.bundle.glob("*.cpp")]:
        for line in path.read_text().splitlines():
            code = line.split("//")[0]  # model names may appear, sanitized, in // comments only
            for bad in ("system", "pwned", "#error", "passwd", "evil", "jinja"):
                assert bad not in code, (path.name, line)
            if "//" in line:
                assert not line.rstrip().endswith("\\"), line  # no line splice out of a comment
