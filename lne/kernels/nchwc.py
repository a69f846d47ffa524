"""Kernels on the blocked NCHW8c layout (runtime/kernels/conv/conv_nchwc.h, pool/pool_nchwc.h,
tensor/reorder.h): pointwise and depthwise convs, global average pooling, and the Reorder
layout conversions. They apply only to nodes the layout pass (lne/passes/layout.py) put in
that layout; their weights are packed at compile time. Channel counts that are not a multiple
of 8 are padded with zero channels; a conv writing a padded tensor may only fuse activations
with act(0) == 0, so the padding stays zero."""
from __future__ import annotations

import math

import numpy as np

from .conv import conv_params, im2col_scratch_floats
from .registry import Emitter, KernelDef, register

BLOCK = 8   # channels per block (kNCHWc)
PANEL = 16  # output channels per pointwise weight panel (kPgNR)


def pad8(c: int) -> int:
    return -(-c // BLOCK) * BLOCK


def pack_gemm(w: np.ndarray, blocked_input: bool = False) -> np.ndarray:
    """w [m, c, kh, kw] -> float32 [ceil(m/16), K, 16], zero past m; K = c*kh*kw, or for a
    pointwise conv on a blocked input the padded channel count (zero rows for padding)."""
    m = w.shape[0]
    if blocked_input:
        c = w.shape[1]
        w = np.concatenate([w.reshape(m, c), np.zeros((m, pad8(c) - c), w.dtype)], axis=1)
    k = math.prod(w.shape[1:])
    mp = -(-m // PANEL) * PANEL
    u = np.zeros((mp, k), np.float32)
    u[:m] = w.reshape(m, k)
    return np.ascontiguousarray(u.reshape(mp // PANEL, PANEL, k).transpose(0, 2, 1))


def pad_channels(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """Zero-pad axis `axis` of `a` to a multiple of 8."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, pad8(a.shape[axis]) - a.shape[axis])
    return np.pad(a, pad)


def pack_depthwise(w: np.ndarray) -> np.ndarray:
    """w [c, 1, k, k] -> float32 [ceil(c/8), k*k, 8], zero past c."""
    c, _, kh, kw = w.shape
    w = pad_channels(w.reshape(c, kh * kw))
    return np.ascontiguousarray(w.reshape(-1, BLOCK, kh * kw).transpose(0, 2, 1), dtype=np.float32)


def to_blocked(x: np.ndarray) -> np.ndarray:
    """NCHW array -> its NCHW8c bytes, as [n, ceil(c/8), h, w, 8] (zero padding channels): the
    numpy oracle for the kernels."""
    n, c, h, w = x.shape
    x = pad_channels(x, 1)
    return np.ascontiguousarray(x.reshape(n, -1, BLOCK, h, w).transpose(0, 1, 3, 4, 2))


def from_blocked(xb: np.ndarray, c: int | None = None) -> np.ndarray:
    n, cb, h, w, b = xb.shape
    return np.ascontiguousarray(xb.transpose(0, 1, 4, 2, 3).reshape(n, cb * b, h, w)[:, :c])


def keeps_zero(act) -> bool:
    """act(0) == 0: a conv writing padding channels (zero weights and bias) keeps them zero."""
    if act is None:
        return True
    kind, alpha, beta = act
    return kind in ("Relu", "LeakyRelu", "Tanh", "HardSwish") or (kind == "Clip" and alpha <= 0 <= beta)


def _padding_ok(node, m: int) -> bool:
    return m % BLOCK == 0 or keeps_zero(node.attrs.get("act"))


def _blocked(node, g) -> bool:
    return g.tensors[node.inputs[0]].layout == "nchw8c"


def pointwise_ok(node, g) -> bool:
    """A 1x1 / stride 1 / unpadded conv, channels multiples of 8, constant weights."""
    a = node.attrs
    x, y = g.tensors[node.inputs[0]].shape, g.tensors[node.outputs[0]].shape
    return (node.op == "Conv" and a["group"] == 1 and len(x) == 4 and _padding_ok(node, y[1])
            and list(a["kernel_shape"]) == [1, 1] and list(a["strides"]) == [1, 1] and not any(a["pads"])
            and tuple(y[2:]) == tuple(x[2:]) and g.const(node.inputs[1]) is not None)


def depthwise_ok(node, g) -> bool:
    """A 1x1 / 3x3 / 5x5 depthwise conv, stride 1 or 2, no dilation."""
    a = node.attrs
    x, y = g.tensors[node.inputs[0]].shape, g.tensors[node.outputs[0]].shape
    k, s = list(a["kernel_shape"]), list(a["strides"])
    return (node.op == "Conv" and len(x) == 4 and a["group"] == x[1] == y[1] and _padding_ok(node, y[1])
            and k[0] == k[1] and k[0] in (1, 3, 5) and s[0] == s[1] and s[0] in (1, 2)
            and list(a["dilations"]) == [1, 1] and g.const(node.inputs[1]) is not None)


def starter_ok(node, g) -> bool:
    """A group-1 conv from an NCHW input whose output (channels a multiple of 8) can be written
    blocked: conv2d_f32_im2col_nchw8c starts a blocked region without a Reorder."""
    x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
    return (node.op == "Conv" and node.attrs["group"] == 1 and len(x.shape) == 4 and _padding_ok(node, y.shape[1])
            and g.const(node.inputs[1]) is not None and x.layout == "nchw" and y.layout == "nchw8c")


def _conv(fn, pack, suffix, scratch=False, pad_bias=False):
    def prepare(node, g) -> dict:
        name = g.fresh_name(f"{node.inputs[1]}_{suffix}")
        packed = {1: g.add_const(name, pack(g.const(node.inputs[1]))).name}
        if pad_bias and len(node.inputs) > 2 and node.inputs[2]:
            bias = g.const(node.inputs[2])
            packed[2] = g.add_const(g.fresh_name(f"{node.inputs[2]}_pad8"), pad_channels(bias)).name
        return packed

    def emit(e: Emitter) -> str:
        p = e.params("lne::ConvParams", conv_params(e))
        bias = e.inputs[2] if len(e.inputs) > 2 else "nullptr"
        extra = f", {e.scratch}" if scratch else ""
        return f"lne::{fn}({p}, {e.inputs[0]}, {e.inputs[1]}, {bias}, {e.outputs[0]}{extra});"
    return prepare, emit


_pw_prepare, _pw_emit = _conv("conv2d_f32_pointwise_nchw8c", lambda w: pack_gemm(w, True), "pw8c")
_st_prepare, _st_emit = _conv("conv2d_f32_im2col_nchw8c", pack_gemm, "gemm8c", scratch=True)
_dw_prepare, _dw_emit = _conv("conv2d_f32_depthwise_nchw8c", pack_depthwise, "dw8c", pad_bias=True)
register(KernelDef("Conv", "pointwise_nchw8c", "kernels/conv/conv_nchwc.h", _pw_emit, family="conv2d",
                   priority=30, layout="nchw8c", applies=pointwise_ok, prepare=_pw_prepare))
register(KernelDef("Conv", "im2col_nchw8c", "kernels/conv/conv_nchwc.h", _st_emit, family="conv2d",
                   priority=30, layout="mixed", applies=starter_ok, prepare=_st_prepare,
                   scratch=lambda n, g: 4 * im2col_scratch_floats(n, g)))
register(KernelDef("Conv", "depthwise_nchw8c", "kernels/conv/conv_nchwc.h", _dw_emit, family="conv2d",
                   priority=30, layout="nchw8c", applies=depthwise_ok, prepare=_dw_prepare))


def _nchw_dims(e: Emitter):
    n, c = e.in_shape(0)[:2]
    return n, c, math.prod(e.in_shape(0)[2:])


def _gap_emit(e: Emitter) -> str:
    n, c, hw = _nchw_dims(e)
    return f"lne::global_avgpool_f32_nchw8c({n}, {c}, {hw}, {e.inputs[0]}, {e.outputs[0]});"


# reads NCHW8c, writes [n, c, 1, 1]: the same bytes in either layout
register(KernelDef("GlobalAveragePool", "nchw8c", "kernels/pool/pool_nchwc.h", _gap_emit, family="global_avgpool",
                   priority=30, layout="mixed", applies=_blocked))


def _reorder_emit(e: Emitter) -> str:
    n, c, hw = _nchw_dims(e)
    fn = "reorder_f32_to_nchw8c" if e.node.attrs["to"] == "nchw8c" else "reorder_f32_from_nchw8c"
    return f"lne::{fn}({n}, {c}, {hw}, {e.inputs[0]}, {e.outputs[0]});"


register(KernelDef("Reorder", "nchw8c", "kernels/tensor/reorder.h", _reorder_emit, family="reorder",
                   priority=10, layout="mixed", inplace=False))
