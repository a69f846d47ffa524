"""Quantization: ONNX QuantizeLinear / DequantizeLinear, and the integer ops the quantize pass
makes from DQ -> op -> Q patterns (QConv, QGemm, QAdd, QGlobalAveragePool).

Numpy references follow ONNX: QuantizeLinear y = saturate(round_half_even(x / scale) + zp),
DequantizeLinear y = (x - zp) * scale, both per tensor or per axis, for int8 / uint8 / int16
(and int32 for bias dequantization). The integer ops compute exactly what their C++ kernels do:
int32 (int64 for int16 data) accumulation of (x - x_zp) * w, plus the int32 bias, then
requantization in float32: saturate(round_half_even(float32(acc) * mult[channel]) + y_zp)
clamped to [lo, hi] (a fused Relu / Clip is that clamp).
"""
from __future__ import annotations

import numpy as np

from .base import OpDef, OpError, register
from .conv import conv2d

QDTYPES = ("int8", "uint8", "int16", "uint16", "int32")
RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
         "int32": (-2**31, 2**31 - 1)}


# -- QuantizeLinear / DequantizeLinear -------------------------------------------------------
def _qparams(node, graph, zp_index=2):
    """Move constant scale / zero point operands into attributes (scale, zp as lists, axis)."""
    if "scale" in node.attrs:
        return
    s = graph.const(node.input(1))
    if s is None:
        raise OpError(node, f"scale (input 1, tensor {node.input(1)!r}) must be a constant")
    zname = node.input(zp_index)
    z = graph.const(zname) if zname else None
    if zname and z is None:
        raise OpError(node, f"zero point (input 2, tensor {zname!r}) must be a constant")
    if s.ndim > 1 or (z is not None and (z.ndim > 1 or z.size != s.size)):
        raise OpError(node, f"scale {list(s.shape)} / zero point must be scalars or 1-D of one shape "
                            "(blocked quantization is not supported)")
    if node.attrs.get("block_size"):
        raise OpError(node, "blocked quantization (block_size) is not supported")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise OpError(node, "scale must be finite and positive")
    node.attrs["scale"] = [float(v) for v in np.asarray(s, np.float32).reshape(-1)]
    if z is not None:
        zdt = str(z.dtype)
        node.attrs["zp"] = [int(v) for v in z.reshape(-1)]
    else:
        zdt = node.attrs.get("zp_dtype", "uint8")
        node.attrs["zp"] = [0] * len(node.attrs["scale"])
    node.attrs["qdtype"] = zdt
    node.attrs["per_axis"] = int(s.size > 1)
    node.attrs.setdefault("axis", 1)
    node.inputs = node.inputs[:1]


def _q_normalize(node, graph):
    if int(node.attrs.get("precision", 0)) not in (0, 1):  # opset 25: the division's type; 0 = the scale's
        raise OpError(node, f"precision {node.attrs['precision']} is not supported (LNE divides in float32)")
    out_dt = node.attrs.get("output_dtype")
    if out_dt:
        from onnx import helper
        node.attrs["zp_dtype"] = str(np.dtype(helper.tensor_dtype_to_np_dtype(out_dt)))
    _qparams(node, graph)
    if node.attrs["qdtype"] not in QDTYPES[:4]:
        raise OpError(node, f"quantizing to {node.attrs['qdtype']} is not supported (int8, uint8, int16, uint16)")
    if int(node.attrs.get("saturate", 1)) != 1:
        pass  # saturate only matters for float8 outputs


def _dq_normalize(node, graph):
    if int(node.attrs.get("output_dtype", 0)) not in (0, 1):  # opset 23: 0 = the scale's type, 1 = FLOAT
        raise OpError(node, f"output_dtype {node.attrs['output_dtype']} is not supported (LNE dequantizes to float32)")
    if not node.input(2):  # no zero point: the input's own type
        node.attrs["zp_dtype"] = graph.tensors[node.inputs[0]].dtype
    _qparams(node, graph)
    if node.attrs["qdtype"] not in QDTYPES:
        raise OpError(node, f"dequantizing {node.attrs['qdtype']} is not supported (int8, uint8, int16, uint16, int32)")
    q = graph.const(node.inputs[0])
    if q is not None:
        # A constant DQ (weights, biases) is folded to float next; keep its integers, keyed by
        # the folded tensor's name, for the quantize pass (lne/passes/quantize.py).
        a = node.attrs
        if not hasattr(graph, "qconsts"):
            graph.qconsts = {}
        graph.qconsts[node.outputs[0]] = {"q": q, "scale": np.array(a["scale"], np.float32),
                                          "zp": np.array(a["zp"], np.int64), "axis": int(a["axis"])}


def _bshape(attrs, ndim):
    """Shape that broadcasts the scale / zero point along the quantization axis."""
    n = len(attrs["scale"])
    if not attrs.get("per_axis") or ndim == 0:
        return ()
    axis = attrs.get("axis", 1) % ndim
    return tuple(n if i == axis else 1 for i in range(ndim))


def quantize(x, scale, zp, dtype) -> np.ndarray:
    """ONNX QuantizeLinear in float32: round half to even, saturate."""
    lo, hi = RANGE[dtype]
    q = np.rint(np.asarray(x, np.float32) / np.asarray(scale, np.float32)).astype(np.float64) + zp
    return np.clip(q, lo, hi).astype(dtype)


def dequantize(q, scale, zp) -> np.ndarray:
    """ONNX DequantizeLinear: (q - zp) * scale in float32."""
    return ((np.asarray(q, np.int64) - np.asarray(zp, np.int64)).astype(np.float32)
            * np.asarray(scale, np.float32)).astype(np.float32)


def _q_ref(node, arrays):
    a, x = node.attrs, arrays[0]
    b = _bshape(a, x.ndim)
    s = np.array(a["scale"], np.float32).reshape(b)
    z = np.array(a["zp"], np.int64).reshape(b)
    return [quantize(x, s, z, a["qdtype"])]


def _dq_ref(node, arrays):
    a, x = node.attrs, arrays[0]
    b = _bshape(a, x.ndim)
    return [dequantize(x, np.array(a["scale"], np.float32).reshape(b), np.array(a["zp"], np.int64).reshape(b))]


def _check_axis(node, x):
    a = node.attrs
    if a.get("per_axis"):
        axis = a.get("axis", 1)
        if not -len(x.shape) <= axis < len(x.shape) or x.shape[axis % len(x.shape)] != len(a["scale"]):
            raise OpError(node, f"axis {axis} of input {list(x.shape)} does not match {len(a['scale'])} scales")


def _q_infer(node, ins):
    _check_axis(node, ins[0])
    if ins[0].dtype != "float32":
        raise OpError(node, f"input is {ins[0].dtype}; QuantizeLinear takes float32")
    return [(ins[0].shape, node.attrs["qdtype"])]


def _dq_infer(node, ins):
    _check_axis(node, ins[0])
    if ins[0].dtype != node.attrs["qdtype"]:
        raise OpError(node, f"input is {ins[0].dtype} but its zero point is {node.attrs['qdtype']}")
    return [(ins[0].shape, "float32")]


register(OpDef("QuantizeLinear", "elementwise", _q_infer, _q_ref, normalize=_q_normalize,
               doc="float -> int8/uint8/int16, per tensor or per axis (round half to even, saturate)"))
register(OpDef("DequantizeLinear", "elementwise", _dq_infer, _dq_ref, normalize=_dq_normalize,
               doc="int8/uint8/int16/int32 -> float, per tensor or per axis"))


# -- integer ops made by the quantize pass ---------------------------------------------------
def requantize(acc, mult, y_zp, lo, hi, dtype) -> np.ndarray:
    """saturate(round_half_even(float32(acc) * mult) + y_zp) clamped to [lo, hi]; a float32
    output is float32(acc) * mult (mult = x_scale * w_scale)."""
    if dtype == "float32":
        return np.asarray(acc).astype(np.float32) * np.asarray(mult, np.float32)
    v = np.rint(np.asarray(acc).astype(np.float32) * np.asarray(mult, np.float32)).astype(np.float64) + y_zp
    return np.clip(v, lo, hi).astype(dtype)


def _qconv_infer(node, ins):
    x, w = ins[0], ins[1]
    a = node.attrs
    n, c, h, wd = x.shape
    m = w.shape[0]
    if w.shape[1] * a["group"] != c or m % a["group"]:
        raise OpError(node, f"group={a['group']} does not fit input {list(x.shape)} / weight {list(w.shape)}")
    from .spatial import out_hw
    oh, ow = out_hw(node, h, wd)
    return [((n, m, oh, ow), a["y_dtype"])]


def _qconv_ref(node, arrays):
    a = node.attrs
    x = arrays[0].astype(np.int64) - a["x_zp"]
    acc = conv2d(x.astype(np.float64), arrays[1].astype(np.float64), None, dict(a, act=None))
    acc = np.rint(acc).astype(np.int64)  # exact: float64 holds these integer sums
    if len(arrays) > 2 and arrays[2] is not None:
        acc = acc + arrays[2].astype(np.int64).reshape(1, -1, 1, 1)
    mult = np.array(a["mult"], np.float32).reshape(1, -1, 1, 1)
    return [requantize(acc, mult, a["y_zp"], a["lo"], a["hi"], a["y_dtype"])]


def _qconv_macs(node, ins, outs):
    w = ins[1].shape
    return outs[0].size * w[1] * w[2] * w[3]


register(OpDef("QConv", "opaque", _qconv_infer, _qconv_ref, macs=_qconv_macs, internal=True,
               doc="integer Conv: (x - x_zp) * w + bias in int32, requantized per output channel"))


def _qgemm_infer(node, ins):
    x, w = ins[0], ins[1]
    if x.shape[-1] != w.shape[1]:
        raise OpError(node, f"inner dimensions differ: {list(x.shape)} x {list(w.shape)}ᵀ")
    return [(tuple(x.shape[:-1]) + (w.shape[0],), node.attrs["y_dtype"])]


def _qgemm_ref(node, arrays):
    a = node.attrs
    x = arrays[0].astype(np.int64) - a["x_zp"]
    acc = x @ arrays[1].astype(np.int64).T
    if len(arrays) > 2 and arrays[2] is not None:
        acc = acc + arrays[2].astype(np.int64)
    return [requantize(acc, np.array(a["mult"], np.float32), a["y_zp"], a["lo"], a["hi"], a["y_dtype"])]


def _qgemm_macs(node, ins, outs):
    return outs[0].size * ins[1].shape[1]


register(OpDef("QGemm", "opaque", _qgemm_infer, _qgemm_ref, macs=_qgemm_macs, internal=True,
               doc="integer x[..., K] times w[N, K]ᵀ plus int32 bias, requantized per output column"))


def _qadd_infer(node, ins):
    if tuple(ins[0].shape) != tuple(ins[1].shape):
        raise OpError(node, "QAdd operands must have one shape")
    return [(ins[0].shape, node.attrs["y_dtype"])]


def qadd_constants(a_scale, a_zp, b_scale, b_zp, y_scale, y_zp) -> tuple[float, float, float]:
    """(ra, rb, k) of QAdd, in float32 as onnxruntime's x86 QLinearAdd forms them."""
    f = np.float32
    ra, rb = f(a_scale) / f(y_scale), f(b_scale) / f(y_scale)
    return float(ra), float(rb), float(f(y_zp) - (ra * f(a_zp) + rb * f(b_zp)))


def _fma32(x, m, c) -> np.ndarray:
    """float32 fma(x, m, c) for integer x (|x| < 2^16): x * m is exact in float64 (16 + 24 bits) and
    so is its sum with the float32 c unless their magnitudes are ~2^13 apart or more; one rounding
    to float32 then gives the fused result."""
    return (x.astype(np.float64) * np.float64(np.float32(m)) + np.asarray(c, np.float64)).astype(np.float32)


def _qadd_ref(node, arrays):
    a = node.attrs
    v = np.rint(_fma32(arrays[0], a["ra"], _fma32(arrays[1], a["rb"], np.float32(a["k"]))))
    return [np.clip(v, a["lo"], a["hi"]).astype(a["y_dtype"])]


register(OpDef("QAdd", "elementwise", _qadd_infer, _qadd_ref, internal=True,
               doc="integer Add: round(fma(a, ra, fma(b, rb, k))) clamped to [lo, hi] (a fused Relu is a clamp)"))


def _qgap_infer(node, ins):
    return [(tuple(ins[0].shape[:2]) + (1,) * (len(ins[0].shape) - 2), node.attrs["y_dtype"])]


def _qgap_ref(node, arrays):
    a, x = node.attrs, arrays[0]
    acc = (x.astype(np.int64) - a["x_zp"]).reshape(x.shape[0], x.shape[1], -1).sum(-1)
    y = requantize(acc, np.float32(a["mult"]), a["y_zp"], a["lo"], a["hi"], a["y_dtype"])
    return [y.reshape(tuple(x.shape[:2]) + (1,) * (x.ndim - 2))]


register(OpDef("QGlobalAveragePool", "reduction", _qgap_infer, _qgap_ref, internal=True,
               doc="integer global average: sum(x - x_zp) * x_scale / (HW * y_scale), requantized"))


def _qclamp_infer(node, ins):
    return [(ins[0].shape, ins[0].dtype)]


def _qclamp_ref(node, arrays):
    return [np.clip(arrays[0], node.attrs["lo"], node.attrs["hi"]).astype(arrays[0].dtype)]


register(OpDef("QClamp", "elementwise", _qclamp_infer, _qclamp_ref, inplace=(0,), internal=True,
               doc="Relu / Clip on a quantized tensor (one scale in and out): clamp to [lo, hi]"))
