"""Convolution kernels: reference, im2col + blocked GEMM, direct depthwise."""
from __future__ import annotations

from .registry import Emitter, KernelDef, c_act, register


def conv_params(e: Emitter) -> list:
    n, c, h, w = e.in_shape(0)
    _, m, oh, ow = e.out_shape()
    a = e.node.attrs
    (kh, kw), (sh, sw), (dh, dw), pads = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    return [n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, pads[0], pads[1], a["group"], c_act(a.get("act"))]


def im2col_block_rows(c: int, m: int, oh: int, ow: int, group: int, pointwise: bool) -> int:
    """Mirror of conv2d_im2col_block_rows() in runtime/kernels/conv/conv_im2col.h."""
    mg = m // group
    if pointwise and c // group > 64:
        return oh
    cols = max(512, 65536 // mg)
    return min(max(1, cols // ow), oh)


def im2col_scratch_floats(node, g) -> int:
    """Mirror of conv2d_f32_im2col_scratch() in runtime/kernels/conv/conv_im2col.h: one block of
    output rows of the column matrix."""
    n, c, h, w = g.tensors[node.inputs[0]].shape
    _, m, oh, ow = g.tensors[node.outputs[0]].shape
    a = node.attrs
    (kh, kw), (sh, sw), pads = a["kernel_shape"], a["strides"], a["pads"]
    if kh == kw == 1 and sh == sw == 1 and pads[0] == pads[1] == 0 and oh == h and ow == w:
        return 0
    return (c // a["group"]) * kh * kw * im2col_block_rows(c, m, oh, ow, a["group"], False) * ow


def _call(fn, with_scratch=False):
    def emit(e: Emitter) -> str:
        p = e.params("lne::ConvParams", conv_params(e))
        bias = e.inputs[2] if len(e.inputs) > 2 else "nullptr"
        extra = f", {e.scratch}" if with_scratch else ""
        return f"lne::{fn}({p}, {e.inputs[0]}, {e.inputs[1]}, {bias}, {e.outputs[0]}{extra});"
    return emit


def _is_depthwise(node, g) -> bool:
    c = g.tensors[node.inputs[0]].shape[1]
    m = g.tensors[node.outputs[0]].shape[1]
    return node.attrs["group"] == c == m


register(KernelDef("Conv", "ref", "kernels/conv/conv_ref.h", _call("conv2d_f32_ref"), family="conv2d"))
register(KernelDef("Conv", "im2col", "kernels/conv/conv_im2col.h", _call("conv2d_f32_im2col", True),
                   family="conv2d", priority=10, scratch=lambda n, g: 4 * im2col_scratch_floats(n, g)))
register(KernelDef("Conv", "depthwise", "kernels/conv/conv_depthwise.h", _call("conv2d_f32_depthwise"),
                   family="conv2d", priority=20, applies=_is_depthwise))
