"""Softmax and LogSoftmax along one axis (opset >= 13), or over the flattened trailing axes
(opset < 13, attrs["coerce_2d"] set by the frontend)."""
from __future__ import annotations

import math

import numpy as np

from .base import OpDef, OpError, register, same_shape


def split(node, shape) -> tuple[int, int, int]:
    """(outer, axis_len, inner) sizes of the softmax."""
    rank = len(shape)
    axis = node.attrs.get("axis", 1 if node.attrs.get("coerce_2d") else -1)
    if not -rank <= axis < rank:
        raise OpError(node, f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    outer = math.prod(shape[:axis])
    if node.attrs.get("coerce_2d"):
        return outer, math.prod(shape[axis:]), 1
    return outer, shape[axis], math.prod(shape[axis + 1:])


def _infer(node, ins):
    split(node, ins[0].shape)
    return same_shape(node, ins)


def _reference(node, arrays):
    x = arrays[0]
    outer, n, inner = split(node, x.shape)
    v = x.reshape(outer, n, inner).astype(np.float64)
    v = v - v.max(axis=1, keepdims=True)
    if node.op == "LogSoftmax":
        y = v - np.log(np.exp(v).sum(axis=1, keepdims=True))
    else:
        e = np.exp(v)
        y = e / e.sum(axis=1, keepdims=True)
    return [y.reshape(x.shape).astype(x.dtype)]


for _op in ("Softmax", "LogSoftmax"):
    register(OpDef(_op, "opaque", _infer, _reference, doc=f"{_op} along an axis"))
