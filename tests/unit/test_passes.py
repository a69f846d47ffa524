"""Passes keep the numpy-reference semantics; the memory plan never lets live buffers overlap."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lne.frontends.onnx import load
from lne.ir import GraphError
from lne.passes import run
from lne.passes.fold import infer_and_fold
from lne.reference import run_graph

from ..conftest import ort_run

RNG = np.random.default_rng(0)


def _init(name, *shape, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    return numpy_helper.from_array(np.abs(a) + 0.5 if positive else a, name)


def _conv_bn_relu_model():
    """Conv -> BN -> Relu -> Pad -> Conv -> Mul(channel const) -> Add(channel const) -> Clip,
    plus exporter-style shape arithmetic feeding a Reshape."""
    inits = [_init("w1", 8, 3, 3, 3), _init("b1", 8), _init("s", 8), _init("bb", 8), _init("m", 8),
             _init("v", 8, positive=True), _init("w2", 5, 8, 3, 3), _init("k", 1, 5, 1, 1), _init("a", 5, 1, 1),
             numpy_helper.from_array(np.array([0.0], np.float32), "lo"),
             numpy_helper.from_array(np.array([6.0], np.float32), "hi"),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Pad", ["r1", "pads"], ["p1"]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], strides=[2, 2]),
        helper.make_node("Mul", ["c2", "k"], ["m2"]),
        helper.make_node("Add", ["a", "m2"], ["a2"]),
        helper.make_node("Clip", ["a2", "lo", "hi"], ["r2"]),
        helper.make_node("Shape", ["r2"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["batch"], axis=0),
        helper.make_node("Concat", ["batch", "minus1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["r2", "newshape"], ["y"]),
    ]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture
def model_path(tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(_conv_bn_relu_model(), str(p))
    return p


def test_fusions_preserve_semantics(model_path):
    x = RNG.standard_normal((1, 3, 9, 9)).astype(np.float32)
    (expected,) = ort_run(model_path, {"x": x})
    g = load(model_path)
    run(g, {})
    ops = [n.op for n in g.nodes]
    # BN, Mul, Add fold into the convs; Relu/Clip fuse; Pad fuses; shape arithmetic folds away
    assert ops == ["Conv", "Conv", "Reshape"], ops
    assert g.nodes[0].attrs["act"][0] == "Relu" and g.nodes[1].attrs["act"][0] == "Clip"
    assert g.nodes[1].attrs["pads"] == [1, 1, 1, 1]
    got = run_graph(g, {"x": x})["y"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_dump_ir_is_readable(model_path):
    g = load(model_path)
    infer_and_fold(g, {})
    text = g.dump()
    assert text.startswith("graph m(%x:float32[1x3x9x9])")
    assert "Conv(" in text and "%y:float32[1x125]" in text


def test_verify_catches_inconsistent_shapes(model_path):
    g = load(model_path)
    run(g, {})
    g.tensors[g.nodes[0].outputs[0]].shape = (1, 8, 9, 10)
    with pytest.raises(GraphError, match="recorded as"):
        g.verify()


def test_memory_plan_never_overlaps_live_buffers(reference_model):
    for name in ("googlenet", "ds_kws3", "mobilenet_v2"):
        g = load(reference_model(name))
        run(g, {})
        bufs = g.plan.buffers
        for i, a in enumerate(bufs):
            for b in bufs[i + 1:]:
                if a.first <= b.last and b.first <= a.last:
                    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (name, a, b)
        assert max(b.offset + b.size for b in bufs) == g.plan.arena_size


def test_concat_written_in_place(reference_model):
    g = load(reference_model("squeezenet1_1"))
    run(g, {})
    concats = [n for n in g.nodes if n.op == "Concat"]
    assert concats and all(n.kernel == "concat_f32_inplace" for n in concats)
    for n in concats:  # each input sits at its slice of the output
        base, offset = g.plan.offsets[n.outputs[0]], 0
        for t in n.inputs:
            assert g.plan.offsets[t] == base + offset
            offset += g.tensors[t].nbytes


def test_debug_plan_keeps_every_tensor(model_path):
    g = load(model_path)
    run(g, {"debug": True})
    spans = sorted((off, off + g.tensors[t].nbytes) for t, off in g.plan.offsets.items()
                   if not any(n.op == "Reshape" and n.outputs[0] == t for n in g.nodes))
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 <= b0
