"""QuantizeLinear / DequantizeLinear numpy references (lne/ops/quant.py) against the ONNX
reference implementation: round half to even, saturation, per tensor and per axis, int8 / uint8 /
int16 (int32 for bias dequantization); and the integer ops' references against float math."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from lne import ops
from lne.ir import Graph, Node
from lne.ops.quant import dequantize, quantize

DTYPES = {"int8": TensorProto.INT8, "uint8": TensorProto.UINT8, "int16": TensorProto.INT16}


def _run_lne(op, x, scale, zp, axis):
    g = Graph()
    g.add_const("s", np.asarray(scale, np.float32))
    g.add_const("z", np.asarray(zp))
    node = Node("n", op, ["x", "s", "z"], ["y"], {"axis": axis})
    ops.get(op).normalize(node, g)
    return ops.get(op).reference(node, [x])[0]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize_match_onnx(dtype, per_axis):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 3, 4, 5)) * 200).astype(np.float32)
    x.flat[:6] = [0.5, 1.5, 2.5, -0.5, -1.5, 1e9]  # ties round to even; saturation
    axis = 1
    scale = np.array([0.5, 1.0, 2.0], np.float32) if per_axis else np.float32(1.0)
    info = np.iinfo(dtype)
    zp = (np.array([0, 3, -2 if info.min < 0 else 7], dtype) if per_axis else np.array(5 if info.min >= 0 else -4, dtype))
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=axis),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=axis)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("q", DTYPES[dtype], x.shape),
                               helper.make_tensor_value_info("y", TensorProto.FLOAT, x.shape)],
                              [numpy_helper.from_array(np.asarray(scale), "s"), numpy_helper.from_array(zp, "z")])
    q_onnx, y_onnx = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])).run(
        None, {"x": x})
    q = _run_lne("QuantizeLinear", x, scale, zp, axis)
    assert q.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(q, q_onnx)
    np.testing.assert_array_equal(_run_lne("DequantizeLinear", q, scale, zp, axis), y_onnx)


def test_rounding_and_saturation_by_hand():
    q = quantize(np.array([0.5, 1.5, 2.5, -2.5, 1000, -1000], np.float32), np.float32(1), 0, "int8")
    np.testing.assert_array_equal(q, [0, 2, 2, -2, 127, -128])
    b = np.array([2**31 - 1, -2**31], np.int32)  # int32 bias dequantization is exact in float64 terms
    np.testing.assert_allclose(dequantize(b, np.float32(1e-3), 0), b * np.float32(1e-3), rtol=1e-7)


def test_qconv_reference_is_integer_conv():
    """QConv's reference: integer conv of (x - x_zp) and w plus bias, then requantization,
    against a float64 conv of the same integers (exact) and numpy rounding."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (1, 6, 7, 5), dtype=np.uint8)
    w = rng.integers(-127, 128, (4, 3, 3, 3), dtype=np.int8)
    bias = rng.integers(-5000, 5000, 4).astype(np.int32)
    attrs = dict(kernel_shape=[3, 3], strides=[2, 1], dilations=[1, 1], pads=[1, 0, 1, 2], group=2,
                 x_zp=131, y_zp=9, lo=9, hi=255, y_dtype="uint8", mult=[1e-3, 2e-3, 5e-4, 3e-3])
    got = ops.get("QConv").reference(Node("c", "QConv", [], [], attrs), [x, w, bias])[0]
    xf = np.pad(x.astype(np.float64) - 131, ((0, 0), (0, 0), (1, 1), (0, 2)))
    acc = np.zeros((1, 4, 4, 5))
    for m in range(4):
        gi = m // 2
        for oy in range(4):
            for ox in range(5):
                acc[0, m, oy, ox] = (xf[0, 3 * gi:3 * gi + 3, 2 * oy:2 * oy + 3, ox:ox + 3] * w[m]).sum() + bias[m]
    want = np.clip(np.rint(acc.astype(np.float32) * np.array(attrs["mult"], np.float32).reshape(1, 4, 1, 1)) + 9,
                   9, 255)
    np.testing.assert_array_equal(got, want.astype(np.uint8))


@pytest.mark.parametrize("op,attr", [("QuantizeLinear", "precision"), ("DequantizeLinear", "output_dtype")])
def test_non_float32_precision_or_output_dtype_is_refused(op, attr):
    """Opset 23/25 attributes: float32 (1) or unset (0) is what LNE computes; float16 (10) is refused."""
    from lne.ops.base import OpError

    for value, ok in ((0, True), (1, True), (10, False)):
        g = Graph()
        g.add_const("s", np.asarray(0.5, np.float32))
        g.add_const("z", np.asarray(0, np.int8))
        node = Node("n", op, ["x", "s", "z"], ["y"], {"axis": 1, attr: value})
        if ok:
            ops.get(op).normalize(node, g)
        else:
            with pytest.raises(OpError, match=attr):
                ops.get(op).normalize(node, g)
