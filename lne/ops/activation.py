"""Pointwise activations. Each is one `act` (kind, alpha, beta) that Conv/Gemm/Add can also
run as a fused epilogue; `act_of(node)` gives it and `apply` is the numpy semantics.
PRelu (slope tensor, broadcast) lives here too but runs as a binary kernel."""
from __future__ import annotations

import numpy as np

from .base import OpDef, OpError, register, same_shape

FLT_MAX = float(np.finfo(np.float32).max)

# kind -> value of lne::ActKind in runtime/include/lne/common.h
ACT_KINDS = {"Relu": 1, "Clip": 2, "LeakyRelu": 3, "Sigmoid": 4, "Tanh": 5, "HardSigmoid": 6, "HardSwish": 7}


def apply(act, y: np.ndarray) -> np.ndarray:
    """numpy semantics of an activation; NaN in, NaN out (np.maximum / np.minimum propagate it,
    as onnxruntime does and the C++ kernels' max_keep_nan / min_keep_nan)."""
    if act is None:
        return y
    kind, alpha, beta = act
    if kind == "Relu":
        return np.maximum(y, 0).astype(y.dtype)
    if kind == "Clip":
        return np.minimum(np.maximum(y, alpha), beta).astype(y.dtype)
    if kind == "LeakyRelu":
        return np.where(y >= 0, y, y * alpha).astype(y.dtype)
    if kind == "Sigmoid":
        return (1.0 / (1.0 + np.exp(-y.astype(np.float64)))).astype(y.dtype)
    if kind == "Tanh":
        return np.tanh(y)
    if kind == "HardSigmoid":
        return np.clip(alpha * y + beta, 0, 1).astype(y.dtype)
    if kind == "HardSwish":
        return (y * np.clip(y / 6.0 + 0.5, 0, 1)).astype(y.dtype)
    raise ValueError(kind)


def act_of(node):
    """The (kind, alpha, beta) triple of a unary activation node."""
    a = node.attrs
    if node.op == "Clip":  # ONNX defaults: the float range (onnxruntime clips +inf to FLT_MAX)
        return ("Clip", float(a.get("min", -FLT_MAX)), float(a.get("max", FLT_MAX)))
    if node.op == "LeakyRelu":
        return ("LeakyRelu", float(a.get("alpha", 0.01)), 0.0)
    if node.op == "HardSigmoid":
        return ("HardSigmoid", float(a.get("alpha", 0.2)), float(a.get("beta", 0.5)))
    return (node.op, 0.0, 0.0)


def _normalize_clip(node, graph):
    for index, attr in ((1, "min"), (2, "max")):
        name = node.input(index)
        if name:
            data = graph.const(name)
            if data is None:
                raise OpError(node, f"Clip {attr} (tensor {name!r}) must be a constant")
            if data.size != 1:
                raise OpError(node, f"Clip {attr} must be a scalar, got shape {list(data.shape)}")
            node.attrs[attr] = float(data.reshape(()))
    node.inputs = node.inputs[:1]


def _unary_ref(node, arrays):
    return [apply(act_of(node), arrays[0])]


def _check_float(node, ins):
    if ins[0].dtype != "float32":
        raise OpError(node, f"input dtype {ins[0].dtype} is not supported (float32 only)")
    return same_shape(node, ins)


for _kind in ACT_KINDS:
    register(OpDef(_kind, "elementwise", _check_float, _unary_ref, inplace=(0,),
                   normalize=_normalize_clip if _kind == "Clip" else None,
                   doc=f"{_kind} activation (fusable epilogue)"))


def _prelu_infer(node, ins):
    x, slope = ins[0].shape, ins[1].shape
    try:
        out = np.broadcast_shapes(x, slope)
    except ValueError:
        raise OpError(node, f"slope shape {list(slope)} does not broadcast to input {list(x)}") from None
    if tuple(out) != tuple(x):
        raise OpError(node, f"slope shape {list(slope)} would change the output shape {list(x)}")
    return [(tuple(x), ins[0].dtype)]


def _prelu_ref(node, arrays):
    x, slope = arrays
    return [np.where(x >= 0, x, x * slope).astype(x.dtype)]


register(OpDef("PRelu", "elementwise", _prelu_infer, _prelu_ref, inplace=(0,),
               doc="parametric ReLU with a broadcast slope tensor"))
