"""The layout pass (lne/passes/layout.py): which tensors go blocked (NCHW8c), where Reorder
nodes go, and that blocked bundles still equal onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lne.frontends.onnx import load
from lne.passes import run

from ..conftest import ort_run

RNG = np.random.default_rng(1)
HOST = {"isa": ("avx2", "fma")}


def _w(name, *shape):
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.3).astype(np.float32), name)


def _dw_block(c: int, act_tail: str | None = None, residual: bool = True):
    """Synthetic: 3x3 conv -> relu -> dw 3x3 s1 -> relu -> pw c->c [-> act] (+ residual) -> GAP, and the
    dw output is also a graph output (a blocked tensor leaving the graph)."""
    inits = [_w("w0", c, 3, 3, 3), _w("b0", c), _w("wd", c, 1, 3, 3), _w("bd", c), _w("wp", c, c, 1, 1), _w("bp", c)]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Conv", ["r0", "wd", "bd"], ["cd"], pads=[1, 1, 1, 1], group=c),
             helper.make_node("Relu", ["cd"], ["dwout"]),
             helper.make_node("Conv", ["dwout", "wp", "bp"], ["cp"])]
    last = "cp"
    if act_tail:
        nodes.append(helper.make_node(act_tail, [last], ["ap"]))
        last = "ap"
    if residual:
        nodes.append(helper.make_node("Add", [last, "r0"], ["sum"]))
        last = "sum"
    nodes.append(helper.make_node("GlobalAveragePool", [last], ["y"]))
    g = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("dwout", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _compiled(model, tmp_path, options=HOST):
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    g = load(path)
    run(g, dict(options))
    return g


def test_depthwise_region_is_blocked_with_reorders_only_at_its_edges(tmp_path):
    g = _compiled(_dw_block(16), tmp_path)
    kernels = [n.kernel for n in g.nodes]
    assert "conv2d_f32_im2col_nchw8c" in kernels and "conv2d_f32_depthwise_nchw8c" in kernels
    assert "conv2d_f32_pointwise_nchw8c" in kernels and "global_avgpool_f32_nchw8c" in kernels
    reorders = [n for n in g.nodes if n.op == "Reorder"]
    assert [n.attrs["to"] for n in reorders] == ["nchw"]  # only the graph output 'dwout' leaves blocked
    assert reorders[0].outputs == ["dwout"] and g.tensors["dwout"].layout == "nchw"
    assert g.tensors["y"].layout == "nchw"


def test_no_blocking_without_avx2_debug_or_depthwise(tmp_path):
    for options in ({"isa": ("neon",)}, dict(HOST, debug=True)):
        g = _compiled(_dw_block(16), tmp_path, options)
        assert all(t.layout == "nchw" for t in g.tensors.values())
    # a region without a depthwise conv stays NCHW (the NCHW kernels are as fast there)
    inits = [_w("w1", 16, 3, 1, 1), _w("w2", 16, 16, 1, 1)]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"]), helper.make_node("Conv", ["a", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "pw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    g = _compiled(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    assert all(t.layout == "nchw" for t in g.tensors.values())


def test_padded_channels_need_a_zero_keeping_activation(tmp_path):
    """12 channels pad to 16; a conv with a fused Sigmoid (sigmoid(0) != 0) would write non-zero
    padding, so it stays NCHW while the ReLU convs before it are blocked."""
    g = _compiled(_dw_block(12, act_tail="Sigmoid", residual=False), tmp_path)
    convs = [n for n in g.nodes if n.op == "Conv"]
    assert [n.kernel.endswith("nchw8c") for n in convs] == [True, True, False]
    assert convs[2].attrs["act"][0] == "Sigmoid" and g.tensors[convs[2].outputs[0]].layout == "nchw"
    assert g.tensors[convs[1].outputs[0]].nbytes == 16 * 9 * 7 * 4  # padded channels take memory


@pytest.mark.parametrize("c,act,residual", [(16, None, True), (20, "Tanh", False),
                                            (12, "Sigmoid", False)])
def test_blocked_bundle_matches_onnxruntime(compile_run, tmp_path, c, act, residual):
    model = _dw_block(c, act, residual)
    onnx.save(model, tmp_path / "ref.onnx")
    x = RNG.standard_normal((1, 3, 9, 7)).astype(np.float32)
    got, _ = compile_run(model, {"x": x})
    want = ort_run(tmp_path / "ref.onnx", {"x": x})
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
