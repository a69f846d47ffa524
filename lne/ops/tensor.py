"""Data movement: Concat, Transpose, Pad, and the views (Reshape, Flatten, Squeeze,
Unsqueeze, Identity, Dropout) that reinterpret a buffer without code."""
from __future__ import annotations

import math

import numpy as np

from .base import OpDef, OpError, move_const_inputs, register, require_const


def _axis(node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise OpError(node, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


# -- Concat ---------------------------------------------------------------------------------
def _concat_infer(node, ins):
    if not ins:
        raise OpError(node, "Concat needs at least one input")
    rank = len(ins[0].shape)
    if "axis" not in node.attrs:
        raise OpError(node, "attribute axis is required")
    axis = _axis(node, node.attrs["axis"], rank)
    out = list(ins[0].shape)
    for t in ins[1:]:
        if len(t.shape) != rank or any(a != b for i, (a, b) in enumerate(zip(t.shape, out)) if i != axis):
            raise OpError(node, f"input {t.name!r} shape {list(t.shape)} does not match {list(ins[0].shape)} "
                                f"outside axis {axis}")
        if t.dtype != ins[0].dtype:
            raise OpError(node, f"input dtypes differ ({t.dtype} vs {ins[0].dtype})")
        out[axis] += t.shape[axis]
    return [(tuple(out), ins[0].dtype)]


def _concat_ref(node, arrays):
    return [np.concatenate(arrays, axis=node.attrs["axis"])]


register(OpDef("Concat", "injective", _concat_infer, _concat_ref, doc="concatenation along an axis"))


# -- Transpose ------------------------------------------------------------------------------
def _perm(node, rank):
    perm = node.attrs.get("perm")
    perm = list(range(rank))[::-1] if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(rank)):
        raise OpError(node, f"perm {perm} is not a permutation of {rank} axes")
    return perm


def _transpose_infer(node, ins):
    perm = _perm(node, len(ins[0].shape))
    return [(tuple(ins[0].shape[p] for p in perm), ins[0].dtype)]


def _transpose_ref(node, arrays):
    return [np.transpose(arrays[0], _perm(node, arrays[0].ndim)).copy()]  # C order, keeps 0-D


register(OpDef("Transpose", "injective", _transpose_infer, _transpose_ref, doc="axis permutation"))


# -- Pad ------------------------------------------------------------------------------------
def _int_list(node, data, what) -> list[int]:
    if data.dtype.kind not in "iu" or data.ndim != 1:
        raise OpError(node, f"{what} must be a 1-D integer tensor, not {data.dtype}{list(data.shape)}")
    return [int(v) for v in data]


def _pad_normalize(node, graph):
    rank = len(graph.tensors[node.inputs[0]].shape)
    a = node.attrs
    if node.input(1):
        a["pads"] = _int_list(node, require_const(node, graph, 1, "pads"), "pads")
    if node.input(2):
        v = require_const(node, graph, 2, "constant_value")
        a["value"] = float(v.reshape(-1)[0]) if v.size else 0.0
    if node.input(3):
        axes = [_axis(node, x, rank) for x in _int_list(node, require_const(node, graph, 3, "axes"), "axes")]
        pads, full = a.get("pads", []), [0] * (2 * rank)
        if len(pads) != 2 * len(axes) or len(set(axes)) != len(axes):
            raise OpError(node, f"pads {pads} and axes {axes}: need distinct axes and two pads per axis")
        for i, ax in enumerate(axes):
            full[ax], full[ax + rank] = pads[i], pads[i + len(axes)]
        a["pads"] = full
    node.inputs = node.inputs[:1]
    mode = a.get("mode", "constant")
    a["mode"] = mode.decode() if isinstance(mode, bytes) else mode
    a.setdefault("value", 0.0)
    if a["mode"] not in ("constant", "reflect", "edge"):
        raise OpError(node, f"pad mode {a['mode']!r} is not supported (constant, reflect, edge)")
    if len(a.get("pads", [])) != 2 * rank:
        raise OpError(node, f"pads has {len(a.get('pads', []))} values; rank {rank} needs {2 * rank}")


def _pad_infer(node, ins):
    x, pads = ins[0].shape, node.attrs["pads"]
    r = len(x)
    out = tuple(x[i] + pads[i] + pads[i + r] for i in range(r))
    if min(out) < 1:
        raise OpError(node, f"pads {pads} leave an empty output {list(out)}")
    if node.attrs["mode"] == "reflect" and any(pads[i] >= x[i] or pads[i + r] >= x[i] for i in range(r)):
        raise OpError(node, "reflect pads must be smaller than the padded dimension")
    return [(out, ins[0].dtype)]


def _pad_ref(node, arrays):
    x, pads, r = arrays[0], node.attrs["pads"], arrays[0].ndim
    crop = tuple(slice(max(0, -pads[i]), x.shape[i] - max(0, -pads[i + r])) for i in range(r))
    widths = [(max(0, pads[i]), max(0, pads[i + r])) for i in range(r)]
    mode = node.attrs["mode"]
    if mode == "constant":
        return [np.pad(x[crop], widths, constant_values=node.attrs["value"])]
    return [np.pad(x[crop], widths, mode=mode)]


register(OpDef("Pad", "injective", _pad_infer, _pad_ref, normalize=_pad_normalize,
               doc="constant / reflect / edge padding (fused into Conv and Pool when possible)"))


# -- views ----------------------------------------------------------------------------------
def _reshape_normalize(node, graph):
    if node.input(1):
        move_const_inputs(node, graph, {1: "shape"})
    if "shape" not in node.attrs:
        raise OpError(node, "the target shape is missing")


def _reshape_infer(node, ins):
    x = ins[0].shape
    shape = [int(s) for s in node.attrs["shape"]]
    allowzero = int(node.attrs.get("allowzero", 0))
    if not allowzero and any(s == 0 and i >= len(x) for i, s in enumerate(shape)):
        raise OpError(node, f"target shape {shape} copies a dimension (0) beyond the input's rank {len(x)}")
    out = [x[i] if s == 0 and not allowzero else s for i, s in enumerate(shape)]
    if out.count(-1) > 1 or any(s < -1 for s in out):
        raise OpError(node, f"invalid target shape {shape}")
    total = math.prod(x)
    if -1 in out:
        known = math.prod([s for s in out if s != -1])
        if known == 0 or total % known:
            raise OpError(node, f"cannot reshape {list(x)} to {shape}")
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise OpError(node, f"cannot reshape {list(x)} ({total} elements) to {shape}")
    return [(tuple(out), ins[0].dtype)]


def _flatten_infer(node, ins):
    x = ins[0].shape
    axis = node.attrs.get("axis", 1)
    if not -len(x) <= axis <= len(x):
        raise OpError(node, f"axis {axis} is out of range for rank {len(x)}")
    if axis < 0:
        axis += len(x)
    return [((math.prod(x[:axis]), math.prod(x[axis:])), ins[0].dtype)]


def _axes_normalize(node, graph):
    if node.input(1):
        move_const_inputs(node, graph, {1: "axes"})


def _squeeze_infer(node, ins):
    x = ins[0].shape
    axes = node.attrs.get("axes")
    if axes is None:
        return [(tuple(d for d in x if d != 1), ins[0].dtype)]
    axes = {_axis(node, a, len(x)) for a in axes}
    for a in axes:
        if x[a] != 1:
            raise OpError(node, f"cannot squeeze axis {a} of size {x[a]}")
    return [(tuple(d for i, d in enumerate(x) if i not in axes), ins[0].dtype)]


def _unsqueeze_infer(node, ins):
    x = list(ins[0].shape)
    axes = node.attrs.get("axes")
    if axes is None:
        raise OpError(node, "axes are required")
    rank = len(x) + len(axes)
    axes = sorted(_axis(node, a, rank) for a in axes)
    if len(set(axes)) != len(axes):
        raise OpError(node, f"repeated axes {axes}")
    for a in axes:
        x.insert(a, 1)
    return [(tuple(x), ins[0].dtype)]


def _identity_infer(node, ins):
    if len(node.outputs) > 1 and any(node.outputs[1:]):
        raise OpError(node, "the mask output of Dropout is not supported")
    return [(ins[0].shape, ins[0].dtype)]


def _view_ref(node, arrays):
    return [arrays[0].reshape(node_out_shape(node, arrays[0]))]


def node_out_shape(node, x):
    from ..ir import Tensor
    return VIEW_INFER[node.op](node, [Tensor("x", x.shape, str(x.dtype))])[0][0]


VIEW_INFER = {"Reshape": _reshape_infer, "Flatten": _flatten_infer, "Squeeze": _squeeze_infer,
              "Unsqueeze": _unsqueeze_infer, "Identity": _identity_infer, "Dropout": _identity_infer}
_VIEW_NORMALIZE = {"Reshape": _reshape_normalize, "Squeeze": _axes_normalize, "Unsqueeze": _axes_normalize}


def _dropout_normalize(node, graph):
    """Inference Dropout passes its input through; training mode (random drops) is refused
    unless the ratio is 0, where it passes it through too."""
    if node.input(2):
        training = require_const(node, graph, 2, "training_mode")
        ratio = require_const(node, graph, 1, "ratio") if node.input(1) and training.any() else np.zeros(1)
        if training.size != 1 or ratio.size != 1:
            raise OpError(node, "training_mode and ratio must be scalars")
        if training.any() and ratio.reshape(-1)[0] != 0:
            raise OpError(node, "training_mode=true drops values at random; LNE compiles inference "
                                "(training_mode false or absent)")
    node.inputs = node.inputs[:1]  # ratio and training_mode: inference ignores them


_VIEW_NORMALIZE["Dropout"] = _dropout_normalize

for _op, _infer in VIEW_INFER.items():
    register(OpDef(_op, "injective", _infer, _view_ref, view=True, normalize=_VIEW_NORMALIZE.get(_op),
                   doc=f"{_op}: a view, no data moves"))
