"""Max and Min (variadic) and Pow: broadcasting elementwise ops beyond the four of binary.py.
Caffe's Eltwise MAX lowers to Max; its within-channel LRN needs Pow."""
from __future__ import annotations

import numpy as np

from .base import OpDef, OpError, register


def _infer(node, ins):
    if not ins or any(t is None for t in ins):
        raise OpError(node, f"{node.op} needs at least one input and no omitted ones")
    if node.op == "Pow" and len(ins) != 2:
        raise OpError(node, f"Pow takes two inputs (base, exponent), got {len(ins)}")
    try:
        shape = np.broadcast_shapes(*(t.shape for t in ins))
    except ValueError:
        raise OpError(node, "input shapes " + ", ".join(str(list(t.shape)) for t in ins)
                      + " do not broadcast") from None
    if node.op != "Pow" and any(t.dtype != ins[0].dtype for t in ins):
        raise OpError(node, "operand dtypes differ: " + ", ".join(t.dtype for t in ins))
    return [(tuple(int(d) for d in shape), ins[0].dtype)]


def _reference(node, arrays):
    if node.op == "Pow":
        base, exp = arrays
        with np.errstate(all="ignore"):
            return [np.power(base.astype(np.float64), exp.astype(np.float64)).astype(base.dtype)]
    f = np.maximum if node.op == "Max" else np.minimum
    y = arrays[0]
    for a in arrays[1:]:
        y = f(y, a)
    return [np.broadcast_to(y, np.broadcast_shapes(*(a.shape for a in arrays))).astype(arrays[0].dtype)]


for _op, _doc in (("Max", "elementwise maximum of N inputs, broadcasting"),
                  ("Min", "elementwise minimum of N inputs, broadcasting"),
                  ("Pow", "elementwise power base ** exponent, broadcasting")):
    register(OpDef(_op, "elementwise", _infer, _reference, inplace=(0, 1), doc=_doc))
