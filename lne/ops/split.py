"""Split: one tensor into consecutive parts along an axis (ONNX Split, every opset form:
`split` as attribute or constant input, `num_outputs`, or equal parts). Caffe's Slice layer
lowers to it."""
from __future__ import annotations

import numpy as np

from .base import OpDef, OpError, register, require_const


def _normalize(node, graph):
    x = graph.tensors[node.inputs[0]]
    rank = len(x.shape)
    axis = int(node.attrs.get("axis", 0))
    if not -rank <= axis < rank:
        raise OpError(node, f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    node.attrs["axis"] = axis
    if node.input(1):
        node.attrs["split"] = [int(s) for s in require_const(node, graph, 1, "split")]
    node.inputs = node.inputs[:1]
    parts = len(node.outputs)
    dim = x.shape[axis]
    if "split" not in node.attrs:
        n = int(node.attrs.pop("num_outputs", parts))
        if n != parts:
            raise OpError(node, f"num_outputs={n} but the node has {parts} outputs")
        chunk = -(-dim // n)  # opset 18: the last part may be smaller
        node.attrs["split"] = [min(chunk, dim - i * chunk) for i in range(n)]
    node.attrs.pop("num_outputs", None)
    split = [int(s) for s in node.attrs["split"]]
    if len(split) != parts or min(split) < 1 or sum(split) != dim:
        raise OpError(node, f"split {split} does not cut axis {axis} of size {dim} into {parts} non-empty parts")
    node.attrs["split"] = split


def _infer(node, ins):
    x = ins[0].shape
    axis, split = node.attrs["axis"], node.attrs["split"]
    return [(tuple(x[:axis]) + (s,) + tuple(x[axis + 1:]), ins[0].dtype) for s in split]


def _reference(node, arrays):
    cuts = np.cumsum(node.attrs["split"])[:-1]
    return [np.ascontiguousarray(p) for p in np.split(arrays[0], cuts, axis=node.attrs["axis"])]


register(OpDef("Split", "injective", _infer, _reference, normalize=_normalize,
               doc="split into consecutive parts along an axis"))
