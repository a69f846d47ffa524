"""Split into several parts (sizes given, or num_outputs with a smaller last part), and Max /
Pow chained on its parts with broadcasting: the compiled bundle and the numpy reference both
against onnxruntime. (tests/ops/cases.py covers each op alone.)"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lne.frontends.onnx import load
from lne.passes.fold import infer_and_fold
from lne.reference import run_graph

from ..conftest import ort_run


def _model():
    nodes = [
        helper.make_node("Split", ["x", "sizes"], ["s0", "s1", "s2"], axis=1),
        helper.make_node("Split", ["y"], ["t0", "t1", "t2"], axis=-1, num_outputs=3),
        helper.make_node("Max", ["s2", "s1", "z"], ["mx"]),
        helper.make_node("Pow", ["s0", "two"], ["pw"]),
    ]
    vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    g = helper.make_graph(nodes, "split", [vi("x", [2, 7, 3]), vi("y", [5, 7]), vi("z", [3])],
                          [vi(n, None) for n in ("s0", "mx", "pw", "t0", "t1", "t2")],
                          [numpy_helper.from_array(np.array([2, 4, 1], np.int64), "sizes"),
                           numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def test_split_parts_max_pow(tmp_path, compile_run):
    m = _model()
    rng = np.random.default_rng(3)
    feeds = {"x": rng.standard_normal((2, 7, 3)).astype(np.float32),
             "y": rng.standard_normal((5, 7)).astype(np.float32), "z": rng.standard_normal(3).astype(np.float32)}
    expected = ort_run(m.SerializeToString(), feeds)
    assert [e.shape for e in expected] == [(2, 2, 3), (2, 4, 3), (2, 2, 3), (5, 3), (5, 3), (5, 1)]

    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    g = load(path)
    infer_and_fold(g, {})
    ref = run_graph(g, feeds)
    got, _ = compile_run(m, feeds)
    for name, e, c in zip(g.outputs, expected, got):
        np.testing.assert_allclose(ref[name], e, rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(c, e, rtol=1e-6, atol=1e-7, err_msg=name)
