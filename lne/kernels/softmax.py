"""Softmax / LogSoftmax and LRN kernels."""
from __future__ import annotations

import math

import numpy as np

from ..ops.softmax import split
from .registry import Emitter, KernelDef, c_float, register


def _softmax(e: Emitter) -> str:
    outer, n, inner = split(e.node, e.in_shape(0))
    log = int(e.node.op == "LogSoftmax")
    return f"lne::softmax_f32_ref({outer}, {n}, {inner}, {e.inputs[0]}, {e.outputs[0]}, {log});"


def _lrn(e: Emitter) -> str:
    shape = e.in_shape(0)
    a = e.node.attrs
    inner = math.prod(shape[2:])
    return (f"lne::lrn_f32_ref({shape[0]}, {shape[1]}, {inner}, {int(a['size'])}, {c_float(a.get('alpha', 1e-4))}, "
            f"{c_float(a.get('beta', 0.75))}, {c_float(a.get('bias', 1.0))}, {e.inputs[0]}, {e.outputs[0]});")


for _op in ("Softmax", "LogSoftmax"):
    register(KernelDef(_op, "ref", "kernels/softmax/softmax_ref.h", _softmax, family=_op.lower()))
register(KernelDef("LRN", "ref", "kernels/lrn/lrn_ref.h", _lrn, family="lrn"))
