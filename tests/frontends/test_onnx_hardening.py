"""Hostile ONNX models (issue 14): nothing a model supplies makes LNE read a file outside the
model's folder, and every limit is checked at load, before any work, with the file and the
tensor / node / field named and names printed escaped and cut."""
from __future__ import annotations

import os
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lne.errors import LNEError
from lne.frontends.onnx import load

from ..conftest import lne_cli

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----" + bytes(range(256))[:93]  # 128 bytes


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _model(nodes, inputs=(("x", [1, 32]),), outputs=("y",), inits=(), opset=17, functions=(), extra_opsets=()):
    g = helper.make_graph(nodes, "g", [_vi(n, s) for n, s in inputs], [_vi(n, None) for n in outputs], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *extra_opsets], functions=list(functions))
    m.ir_version = 10
    return m


def _external_tensor(name, location, shape=(1, 32), offset=0):
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(4 * int(np.prod(shape))))):
        e = t.external_data.add()
        e.key, e.value = key, value
    return t


def _constant_model(location):
    return _model([helper.make_node("Constant", [], ["c"], value=_external_tensor("c", location)),
                   helper.make_node("Add", ["x", "c"], ["y"])])


def _no_secret_anywhere(root, *texts):
    """The secret's bytes are in no file under `root` (but the secret itself) and no text."""
    for text in texts:
        assert SECRET[:24].decode() not in text
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            if os.path.islink(path) or f in ("id_rsa", "secret.bin"):  # the secret itself
                continue
            with open(path, "rb") as fh:
                assert SECRET[-64:] not in fh.read(), path


def _fails(tmp_path, model_path, *needles, cwd=None):
    out = tmp_path / "out"
    r = lne_cli("compile", model_path, "-o", out, cwd=cwd)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert not out.exists(), "a failed compile left output behind"
    return r


# -- external data of attributes: the model's folder only -----------------------------------------
@pytest.mark.parametrize("how", ["constant", "function"])
def test_constant_external_data_is_not_read_from_the_current_folder(tmp_path, how):
    """A Constant whose value points at `.ssh/id_rsa` (relative, no `..`, no link) was read
    relative to the current folder, and the key landed in the weights blob."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_bytes(SECRET)
    folder = tmp_path / "a"
    folder.mkdir()
    if how == "constant":
        m = _constant_model(".ssh/id_rsa")
    else:  # the same Constant inside a model-local function, inlined before import
        fn = helper.make_function("leak", "AddKey", ["X"], ["Y"],
                                  [helper.make_node("Constant", [], ["c"], value=_external_tensor("c", ".ssh/id_rsa")),
                                   helper.make_node("Add", ["X", "c"], ["Y"])],
                                  opset_imports=[helper.make_opsetid("", 17)])
        m = _model([helper.make_node("AddKey", ["x"], ["y"], domain="leak")], functions=[fn],
                   extra_opsets=[helper.make_opsetid("leak", 1)])
    (folder / "m.onnx").write_bytes(m.SerializeToString())
    r = _fails(tmp_path, folder / "m.onnx", "'.ssh/id_rsa'", "is missing", "model's folder", cwd=tmp_path)
    _no_secret_anywhere(tmp_path, r.stdout, r.stderr)
    for cmd in (["inspect", folder / "m.onnx"], ["convert", folder / "m.onnx", "-o", tmp_path / "c.onnx"]):
        r = lne_cli(*cmd, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (cmd, r.stderr)
        _no_secret_anywhere(tmp_path, r.stdout, r.stderr)


@pytest.mark.parametrize("location", ["../secret.bin", "/SECRET", "link.bin", "sub/../../secret.bin"])
def test_constant_external_data_outside_the_folder_is_refused(tmp_path, location):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "sub").mkdir()
    (folder / "link.bin").symlink_to(secret)
    location = location.replace("/SECRET", str(secret))
    (folder / "m.onnx").write_bytes(_constant_model(location).SerializeToString())
    r = _fails(tmp_path, folder / "m.onnx", "outside the model's folder", "node 'Constant_0' attribute 'value'",
               cwd=folder)
    _no_secret_anywhere(tmp_path, r.stdout, r.stderr)


def test_constant_external_data_beside_the_model_works(tmp_path, monkeypatch):
    """The legitimate case: the data file beside the model, compiled from another folder, gives
    what onnxruntime computes."""
    import onnxruntime as ort

    import lne
    from lne.compiler import compile_model

    folder = tmp_path / "model"
    folder.mkdir()
    value = np.linspace(-3, 3, 32, dtype=np.float32).reshape(1, 32)
    (folder / "c.bin").write_bytes(bytes(16) + value.tobytes())
    m = _model([helper.make_node("Constant", [], ["c"], value=_external_tensor("c", "c.bin", offset=16)),
                helper.make_node("Mul", ["x", "c"], ["y"])])
    (folder / "m.onnx").write_bytes(m.SerializeToString())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the checker nor the loader may look here
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 32)
    expected = ort.InferenceSession(str(folder / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    bundle = compile_model(folder / "m.onnx", tmp_path / "bundle")
    (got,) = lne.InferenceSession(bundle).run(None, {"x": x})
    np.testing.assert_allclose(got, expected[0], rtol=1e-6)


def test_schema_check_does_not_probe_the_current_folder(tmp_path, monkeypatch):
    """The ONNX checker looks for a tensor attribute's external file relative to the current
    folder: it must only ever see the node without its external data references."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "c.bin").write_bytes(np.ones(32, np.float32).tobytes())
    (folder / "m.onnx").write_bytes(_constant_model("c.bin").SerializeToString())
    monkeypatch.chdir(tmp_path)
    g = load(folder / "m.onnx")
    np.testing.assert_array_equal(g.nodes[0].attrs["value"], np.ones((1, 32), np.float32))


def test_sparse_constant_is_refused(tmp_path):
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(np.ones(2, np.float32), "v"),
                                       numpy_helper.from_array(np.array([0, 5], np.int64), "i"), [1, 32])
    p = tmp_path / "m.onnx"
    p.write_bytes(_model([helper.make_node("Constant", [], ["c"], sparse_value=sparse),
                          helper.make_node("Add", ["x", "c"], ["y"])]).SerializeToString())
    with pytest.raises(LNEError, match="sparse tensors are not supported"):
        load(p)


# -- limits before work ---------------------------------------------------------------------------
def _load_fails(tmp_path, m, *needles):
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString() if hasattr(m, "SerializeToString") else m)
    with pytest.raises(LNEError) as e:
        load(p)
    for n in needles:
        assert n in str(e.value), (n, str(e.value))
    return str(e.value)


@pytest.mark.parametrize("where", ["node", "tensor", "input", "initializer"])
def test_huge_name_is_refused_and_not_echoed(tmp_path, where):
    big = "\x1b[31m" + "n" * (1 << 20)
    if where == "node":
        m = _model([helper.make_node("Relu", ["x"], ["y"], name=big)])
    elif where == "tensor":
        m = _model([helper.make_node("Relu", ["x"], [big]), helper.make_node("Relu", [big], ["y"])])
    elif where == "input":
        m = _model([helper.make_node("Relu", [big], ["y"])], inputs=((big, [1, 32]),))
    else:
        m = _model([helper.make_node("Add", ["x", big], ["y"])],
                   inits=[numpy_helper.from_array(np.ones(32, np.float32), big)])
    msg = _load_fails(tmp_path, m, "too long", "LNE reads names of at most 4096 characters")
    assert len(msg) < 1000 and "\x1b" not in msg, msg[:300]


def test_huge_name_through_the_cli_is_cut(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(_model([helper.make_node("Erf", ["x"], ["y"], name="e" * (1 << 20))]).SerializeToString())
    r = _fails(tmp_path, p, "LNE reads names of at most 4096")
    assert len(r.stderr) < 2000


def test_unsupported_op_names_are_cut(tmp_path):
    long_name = "\x1b]0;x\x07" + "e" * 3000
    msg = _load_fails(tmp_path, _model([helper.make_node("Erf", ["x"], ["y"], name=long_name)]), "Erf")
    assert len(msg) < 1000 and "\x1b" not in msg and "\x07" not in msg


@pytest.mark.parametrize("where", ["input", "initializer", "constant"])
def test_rank_above_max_is_refused_at_load(tmp_path, where):
    rank_100 = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1] * 100, float_data=[2.0])
    if where == "input":
        m, needle = _model([helper.make_node("Relu", ["x"], ["y"])], inputs=(("x", [1] * 100),)), "input 'x'"
    elif where == "initializer":
        m, needle = _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[rank_100]), "initializer 'w'"
    else:
        m = _model([helper.make_node("Constant", [], ["w"], value=rank_100),
                    helper.make_node("Add", ["x", "w"], ["y"])])
        needle = "node 'Constant_0' attribute 'value'"
    _load_fails(tmp_path, m, needle, "has 100 dimensions", "at most 8")


def test_rank_9_input_shape_override_is_refused(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(_model([helper.make_node("Relu", ["x"], ["y"])]).SerializeToString())
    with pytest.raises(LNEError, match="input 'x' has 9 dimensions"):
        load(p, {"x": (1,) * 9})


@pytest.mark.parametrize("what", ["input", "output", "initializer"])
def test_duplicate_graph_names_are_refused(tmp_path, what):
    w = numpy_helper.from_array(np.ones(32, np.float32), "w")
    if what == "input":
        m = _model([helper.make_node("Add", ["x", "x"], ["y"])], inputs=(("x", [1, 32]), ("x", [1, 32])))
        needle = "declares input 'x' twice"
    elif what == "output":
        m, needle = _model([helper.make_node("Relu", ["x"], ["y"])], outputs=("y", "y")), "declares output 'y' twice"
    else:
        m = _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w, w])
        needle = "initializer 'w' is defined twice"
    _load_fails(tmp_path, m, needle)


def test_initializer_listed_as_input_is_still_fine(tmp_path):
    """IR < 4 lists initializers among the inputs: not a duplicate."""
    w = numpy_helper.from_array(np.ones(32, np.float32), "w")
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], inputs=(("x", [1, 32]), ("w", [32])), inits=[w])
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    assert load(p).inputs == ["x"]


@pytest.mark.parametrize("dtype", ["INT4", "UINT4"])
def test_valid_4bit_initializer_is_unsupported_not_corrupt(tmp_path, dtype):
    w = helper.make_tensor("w4", getattr(TensorProto, dtype), [32], [1] * 32)
    m = _model([helper.make_node("Cast", ["w4"], ["wf"], to=TensorProto.FLOAT),
                helper.make_node("Add", ["x", "wf"], ["y"])],
               inits=[w], opset=21)
    msg = _load_fails(tmp_path, m, "initializer 'w4'", f"{dtype} is not supported")
    assert "corrupt" not in msg


def test_huge_initializer_dims_refused_before_reading(tmp_path):
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**62, 2**62])
    _load_fails(tmp_path, _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w]), "initializer 'w'",
                "more than 2147483647 elements")


def test_node_count_is_bounded(tmp_path, monkeypatch):
    import lne.frontends.onnx.loader as loader

    monkeypatch.setattr(loader, "MAX_NODES", 10)
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(11)]
    m = _model(nodes, inputs=(("t0", [1, 32]),), outputs=("t11",))
    _load_fails(tmp_path, m, "11 nodes", "at most 10")


def test_exponential_function_inlining_is_refused_quickly(tmp_path):
    """F0 calls F1 twice, F1 calls F2 twice... 40 deep: 2^40 nodes once inlined, from 3 KB."""
    fns = []
    for k in range(40):
        body = [helper.make_node("Relu", ["X"], ["Y"])] if k == 39 else \
            [helper.make_node(f"F{k + 1}", ["X"], ["T"], domain="f"),
             helper.make_node(f"F{k + 1}", ["T"], ["Y"], domain="f")]
        fns.append(helper.make_function("f", f"F{k}", ["X"], ["Y"], body,
                                        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("f", 1)]))
    m = _model([helper.make_node("F0", ["x"], ["y"], domain="f")], functions=fns,
               extra_opsets=[helper.make_opsetid("f", 1)])
    start = time.monotonic()
    _load_fails(tmp_path, m, "more than 1000000 nodes once its functions are inlined")
    assert time.monotonic() - start < 10


def test_fifo_model_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    _fails(tmp_path, fifo, "FIFO", "not a regular file")


def test_folder_as_model(tmp_path):
    folder = tmp_path / "m.onnx"
    folder.mkdir()
    _fails(tmp_path, folder, "folder")


def test_terminal_escapes_in_names_are_escaped(tmp_path):
    name = "evil\x1b[2J\x1b]0;owned\x07"
    m = _model([helper.make_node("Add", ["x", "nowhere"], ["y"], name=name)])
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    r = _fails(tmp_path, p)
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr, r.stderr


def test_legit_model_with_external_initializers_still_loads(tmp_path):
    w = numpy_helper.from_array(np.arange(32, dtype=np.float32).reshape(1, 32), "w")
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w])
    onnx.save_model(m, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0)
    g = load(tmp_path / "m.onnx")
    np.testing.assert_array_equal(g.tensors["w"].data, np.arange(32, dtype=np.float32).reshape(1, 32))


def test_graph_attribute_is_refused_before_the_checker_probes_files(tmp_path, monkeypatch):
    """A subgraph hidden in an attribute of a supported op: its tensors' external data must not
    be looked for (by the ONNX checker) relative to the current folder."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_bytes(SECRET)
    body = helper.make_graph([helper.make_node("Constant", [], ["k"], value=_external_tensor("k", ".ssh/id_rsa"))],
                             "body", [], [_vi("k", None)])
    node = helper.make_node("Relu", ["x"], ["y"])
    node.attribute.append(helper.make_attribute("body", body))
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "m.onnx").write_bytes(_model([node]).SerializeToString())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LNEError, match="attribute 'body' is a graph"):
        load(folder / "m.onnx")
