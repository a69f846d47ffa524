"""Pointwise activations: ReLU (negative_slope), ReLU6 (forks), PReLU, Sigmoid, TanH."""
from __future__ import annotations


def relu(b) -> list[str]:
    slope = float(b.layer.relu_param.negative_slope)
    x = b.bottom(0)
    if slope:
        return [b.node("LeakyRelu", [x], {"alpha": slope}, out=b.top())]
    return [b.node("Relu", [x], out=b.top())]


def relu6(b) -> list[str]:
    return [b.node("Clip", [b.bottom(0)], {"min": 0.0, "max": 6.0}, out=b.top())]


def prelu(b) -> list[str]:
    x = b.bottom(0)
    shape = b.shape(x)
    channels = shape[1] if len(shape) > 1 else 1
    shared = b.layer.prelu_param.channel_shared
    (slope,) = b.blobs(1, "slope")
    slope = b.check_blob(slope, (1,) if shared else (channels,), "slope", 0)
    if not shared:  # slope per channel (axis 1), broadcast over the rest
        slope = slope.reshape((channels,) + (1,) * (len(shape) - 2))
    return [b.node("PRelu", [x, b.const("slope", slope)], out=b.top())]


def _unary(op):
    return lambda b: [b.node(op, [b.bottom(0)], out=b.top())]


LAYERS = {"ReLU": relu, "ReLU6": relu6, "PReLU": prelu, "Sigmoid": _unary("Sigmoid"), "TanH": _unary("Tanh")}
