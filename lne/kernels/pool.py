"""Pooling kernels."""
from __future__ import annotations

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
        hw = int(np.prod(shape[2:], dtype=np.int64))
        return f"lne::{fn}({shape[0] * shape[1]}, {hw}, {e.inputs[0]}, {e.outputs[0]});"
    return emit


register(KernelDef("MaxPool", "ref", "kernels/pool/pool_ref.h", _pool("maxpool2d_f32_ref"), family="maxpool2d"))
register(KernelDef("AveragePool", "ref", "kernels/pool/pool_ref.h", _pool("avgpool2d_f32_ref"), family="avgpool2d",
                   applies=lambda n, g: n.attrs["dilations"] == [1, 1]))
register(KernelDef("GlobalAveragePool", "ref", "kernels/pool/pool_ref.h", _global("global_avgpool_f32_ref"),
                   family="global_avgpool"))
register(KernelDef("GlobalMaxPool", "ref", "kernels/pool/pool_ref.h", _global("global_maxpool_f32_ref"),
                   family="global_maxpool"))
