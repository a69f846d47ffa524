"""Add, Sub, Mul, Div with numpy (multidirectional) broadcasting; Add may carry a fused
activation (attrs["act"]). On integer tensors they only run during constant folding."""
from __future__ import annotations

import numpy as np

from . import activation
from .base import OpDef, OpError, register

FUNCS = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
KINDS = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3}  # lne::BinaryKind


def _infer(node, ins):
    a, b = ins
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise OpError(node, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None
    if a.dtype != b.dtype:
        raise OpError(node, f"operand dtypes differ: {a.dtype} and {b.dtype}")
    return [(tuple(int(d) for d in shape), a.dtype)]


def _reference(node, arrays):
    a, b = arrays
    if node.op == "Div" and np.issubdtype(a.dtype, np.integer):
        y = np.trunc(a / b).astype(a.dtype)
    else:
        y = FUNCS[node.op](a, b).astype(a.dtype)
    return [activation.apply(node.attrs.get("act"), y)]


for _op in FUNCS:
    register(OpDef(_op, "elementwise", _infer, _reference, inplace=(0, 1),
                   doc=f"{_op} with broadcasting"))
