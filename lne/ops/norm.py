"""Normalisation: BatchNormalization (inference form), LRN, and the internal ChannelAffine
(y = act(x * scale[c] + bias[c])) that a BatchNormalization which cannot fold becomes."""
from __future__ import annotations

import numpy as np

from . import activation
from .base import OpDef, OpError, register, same_shape


def _bn_infer(node, ins):
    x = ins[0]
    if len(x.shape) < 2:
        raise OpError(node, f"input rank {len(x.shape)} < 2")
    c = x.shape[1]
    for t, what in zip(ins[1:5], ("scale", "B", "mean", "var")):
        if t is None or tuple(t.shape) != (c,):
            raise OpError(node, f"{what} must have shape [{c}] (one value per channel), got "
                                f"{list(t.shape) if t is not None else 'none'}")
    if len(node.outputs) > 1 and any(node.outputs[1:]):
        raise OpError(node, "training-mode outputs (running mean/var) are not supported")
    return [(x.shape, x.dtype)] + [((c,), x.dtype)] * (len(node.outputs) - 1)


def bn_scale_bias(scale, bias, mean, var, eps):
    """BatchNormalization as a per-channel affine map, computed in float64."""
    s = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return s, bias.astype(np.float64) - mean.astype(np.float64) * s


def _bn_ref(node, arrays):
    x = arrays[0]
    s, b = bn_scale_bias(*arrays[1:5], node.attrs.get("epsilon", 1e-5))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return [(x * s.reshape(shape) + b.reshape(shape)).astype(x.dtype)]


register(OpDef("BatchNormalization", "elementwise", _bn_infer, _bn_ref, inplace=(0,),
               doc="inference BatchNormalization (folded into the producer when possible)"))


def _affine_ref(node, arrays):
    x, s, b = arrays
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return [activation.apply(node.attrs.get("act"), (x * s.reshape(shape) + b.reshape(shape)).astype(x.dtype))]


register(OpDef("ChannelAffine", "elementwise", same_shape, _affine_ref, inplace=(0,), internal=True,
               doc="y = act(x * scale[c] + bias[c])"))


def _lrn_ref(node, arrays):
    x = arrays[0].astype(np.float64)
    a = node.attrs
    size, alpha, beta, bias = int(a["size"]), a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0)
    c = x.shape[1]
    sq = x * x
    acc = np.zeros_like(x)
    lo_off, hi_off = (size - 1) // 2, -(-(size - 1) // 2)
    for ch in range(c):
        lo, hi = max(0, ch - lo_off), min(c - 1, ch + hi_off)
        acc[:, ch] = sq[:, lo:hi + 1].sum(axis=1)
    return [(x / (bias + alpha / size * acc) ** beta).astype(arrays[0].dtype)]


def _lrn_infer(node, ins):
    if "size" not in node.attrs or int(node.attrs["size"]) < 1:
        raise OpError(node, "attribute size must be a positive integer")
    if len(ins[0].shape) < 3:
        raise OpError(node, f"input rank {len(ins[0].shape)} < 3")
    if int(node.attrs["size"]) + ins[0].shape[1] > 2**31 - 1:  # lrn_f32_ref: int32 size and channel window
        raise OpError(node, f"attribute size={int(node.attrs['size'])} does not fit the 32-bit integers the "
                            "kernel uses (size + channels must be at most 2147483647)")
    return same_shape(node, ins)


register(OpDef("LRN", "opaque", _lrn_infer, _lrn_ref, doc="local response normalisation across channels"))
