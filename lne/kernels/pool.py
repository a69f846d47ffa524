"""Pooling kernels."""
from __future__ import annotations

import math

import numpy as np

from .registry import Emitter, KernelDef, register


def pool_params(e: Emitter) -> list:
    n, c, h, w = e.in_shape(0)
    _, _, oh, ow = e.out_shape()
    a = e.node.attrs
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    return [n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, a["count_include_pad"]]


def _pool(fn):
    def emit(e: Emitter) -> str:
        p = e.params("lne::PoolParams", pool_params(e))
        return f"lne::{fn}({p}, {e.inputs[0]}, {e.outputs[0]});"
    return emit


def _global(fn):
    def emit(e: Emitter) -> str:
        shape = e.in_shape(0)
        hw = math.prod(shape[2:])
        return f"lne::{fn}({shape[0] * shape[1]}, {hw}, {e.inputs[0]}, {e.outputs[0]});"
    return emit


register(KernelDef("MaxPool", "ref", "kernels/pool/pool_ref.h", _pool("maxpool2d_f32_ref"), family="maxpool2d"))
register(KernelDef("AveragePool", "ref", "kernels/pool/pool_ref.h", _pool("avgpool2d_f32_ref"), family="avgpool2d",
                   applies=lambda n, g: n.attrs["dilations"] == [1, 1]))
register(KernelDef("GlobalAveragePool", "ref", "kernels/pool/pool_ref.h", _global("global_avgpool_f32_ref"),
                   family="global_avgpool"))
register(KernelDef("GlobalMaxPool", "ref", "kernels/pool/pool_ref.h", _global("global_maxpool_f32_ref"),
                   family="global_maxpool"))


def _fast_window(node, g) -> bool:
    """2x2 / 3x3 square window, stride 1 or 2, no dilation: the vectorised plane path."""
    a = node.attrs
    (kh, kw), (sh, sw) = a["kernel_shape"], a["strides"]
    return kh == kw and kh in (2, 3) and sh == sw and sh in (1, 2) and list(a["dilations"]) == [1, 1]


def _global_window(node, g) -> bool:
    """A window over the whole unpadded plane: a global average."""
    x = g.tensors[node.inputs[0]].shape
    a = node.attrs
    return (len(x) == 4 and list(a["kernel_shape"]) == list(x[2:]) and not any(a["pads"])
            and list(a["dilations"]) == [1, 1])


register(KernelDef("MaxPool", "fast", "kernels/pool/pool_fast.h", _pool("maxpool2d_f32_fast"), family="maxpool2d",
                   priority=10, applies=lambda n, g: len(g.tensors[n.inputs[0]].shape) == 4 and _fast_window(n, g)))
register(KernelDef("AveragePool", "fast", "kernels/pool/pool_fast.h", _pool("avgpool2d_f32_fast"), family="avgpool2d",
                   priority=10, applies=lambda n, g: len(g.tensors[n.inputs[0]].shape) == 4
                   and (_fast_window(n, g) or _global_window(n, g))))
register(KernelDef("GlobalAveragePool", "fast", "kernels/pool/pool_fast.h", _global("global_avgpool_f32_fast"),
                   family="global_avgpool", priority=10))
