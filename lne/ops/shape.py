"""Shape arithmetic that exporters emit (Shape, Gather, Slice, Cast, Constant,
ConstantOfShape, ...). With static shapes it is always constant, so these ops exist only to be
folded at compile time (runtime=False); one left over after folding is a clear error."""
from __future__ import annotations

import math

import numpy as np

from .base import OpDef, OpError, check_elements, register

DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
          11: "float64"}


def _no_infer(node, ins):
    raise OpError(node, f"{node.op} is only supported on constant inputs (shape arithmetic), "
                        "but an input here is computed at run time")


def _shape_ref(node, arrays, shape=None):
    raise AssertionError("Shape is folded from the input's static shape")


def _gather_ref(node, arrays):
    data, idx = arrays
    axis = node.attrs.get("axis", 0)
    return [np.take(data, idx.astype(np.int64), axis=axis)]


def _slice_ref(node, arrays):
    data = arrays[0]
    if len(arrays) > 1:  # opset >= 10: starts, ends, axes, steps as inputs
        starts, ends = arrays[1], arrays[2]
        axes = arrays[3] if len(arrays) > 3 and arrays[3] is not None else np.arange(len(starts))
        steps = arrays[4] if len(arrays) > 4 and arrays[4] is not None else np.ones(len(starts), np.int64)
    else:
        starts, ends = node.attrs["starts"], node.attrs["ends"]
        axes = node.attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [data[tuple(index)]]


def _cast_ref(node, arrays):
    to = node.attrs.get("to")
    if to not in DTYPES:
        raise OpError(node, f"Cast to ONNX dtype {to} is not supported")
    return [arrays[0].astype(DTYPES[to])]


def _cos_ref(node, arrays):
    value = node.attrs.get("value")
    value = np.zeros(1, np.float32) if value is None else value
    shape = tuple(int(d) for d in arrays[0])
    check_elements(node, shape)
    return [np.full(shape, value.reshape(-1)[0], dtype=value.dtype)]


def _range_ref(node, arrays):
    start, limit, delta = (a.item() for a in arrays)
    check_elements(node, (max(0, math.ceil((limit - start) / delta)) if delta else 0,))
    return [np.arange(start, limit, delta).astype(arrays[0].dtype)]


def _constant_ref(node, arrays):
    a = node.attrs
    if "value" in a:
        return [np.asarray(a["value"])]
    for key, dtype in (("value_float", np.float32), ("value_int", np.int64), ("value_floats", np.float32),
                       ("value_ints", np.int64)):
        if key in a:
            return [np.asarray(a[key], dtype=dtype)]
    raise OpError(node, "Constant has no supported value attribute (sparse and string values are not supported)")


def _unary(f):
    return lambda node, arrays: [f(arrays[0]).astype(arrays[0].dtype)]


REFS = {"Shape": _shape_ref, "Gather": _gather_ref, "Slice": _slice_ref, "Cast": _cast_ref,
        "ConstantOfShape": _cos_ref, "Constant": _constant_ref,
        "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Sqrt": _unary(np.sqrt),
        "Equal": lambda node, a: [np.equal(a[0], a[1])],
        "Where": lambda node, a: [np.where(a[0], a[1], a[2])],
        "Range": _range_ref}

for _op, _ref in REFS.items():
    register(OpDef(_op, "shape", _no_infer, _ref, runtime=False,
                   doc=f"{_op}: folded at compile time (constant inputs only)"))
