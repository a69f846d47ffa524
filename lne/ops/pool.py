"""Pooling: MaxPool and AveragePool (pads, strides, dilations, ceil_mode, count_include_pad)
and the global forms."""
from __future__ import annotations

import numpy as np

from .base import OpDef, OpError, check_rank, register
from .spatial import out_hw, window_attrs


def _normalize(node, graph):
    x = graph.tensors[node.inputs[0]]
    check_rank(node, x, {4})
    if "kernel_shape" not in node.attrs:
        raise OpError(node, "attribute kernel_shape is required")
    window_attrs(node, x.shape[2:], tuple(node.attrs["kernel_shape"]))
    node.attrs["ceil_mode"] = int(bool(node.attrs.get("ceil_mode", 0)))  # 0 / 1 (an int32 field in C++)
    node.attrs["count_include_pad"] = int(bool(node.attrs.get("count_include_pad", 0)))
    if node.op == "MaxPool" and len(node.outputs) > 1 and node.outputs[1]:
        raise OpError(node, "the Indices output of MaxPool is not supported")
    if node.op == "MaxPool" and int(node.attrs.get("storage_order", 0)):
        raise OpError(node, "storage_order=1 is not supported")


def _infer(node, ins):
    n, c, h, w = ins[0].shape
    oh, ow = out_hw(node, h, w, bool(node.attrs["ceil_mode"]))
    return [((n, c, oh, ow), ins[0].dtype)]


def _windows(x, attrs, ceil_mode):
    """Yield (values, mask) per window tap, each of shape [n, c, oh, ow] / [oh, ow]: the tap over
    the input padded with zeros, the mask telling which taps are real input (1), padding (2) or
    ceil overhang (0). One tap at a time: memory stays that of the output, not kh*kw times it."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = (attrs["kernel_shape"], attrs["strides"],
                                                      attrs["dilations"], attrs["pads"])
    n, c, h, w = x.shape

    def size(s, k, st, d, p0, p1):
        span = s + p0 + p1 - (k - 1) * d - 1
        o = (-(-span // st) if ceil_mode else span // st) + 1
        return o - 1 if ceil_mode and (o - 1) * st >= s + p0 else o

    oh, ow = size(h, kh, sh, dh, pt, pb), size(w, kw, sw, dw, pl, pr)
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + pt + pb))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + pl + pr))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb + extra_h), (pl, pr + extra_w)))
    kind = np.zeros(xp.shape[2:], np.int8)
    kind[: pt + h + pb, : pl + w + pr] = 2
    kind[pt: pt + h, pl: pl + w] = 1
    for ky in range(kh):
        for kx in range(kw):
            ys, xs = slice(ky * dh, ky * dh + sh * (oh - 1) + 1, sh), slice(kx * dw, kx * dw + sw * (ow - 1) + 1, sw)
            yield xp[:, :, ys, xs], kind[ys, xs]


def _reference(node, arrays):
    x = arrays[0]
    taps = _windows(x, node.attrs, bool(node.attrs["ceil_mode"]))
    if node.op == "MaxPool":
        y = None
        for vals, mask in taps:
            v = np.where(mask == 1, vals, -np.inf)
            y = v if y is None else np.maximum(y, v)  # np.maximum keeps NaN, as max over the window did
        return [y.astype(x.dtype)]
    total = count = None
    include = node.attrs["count_include_pad"]
    for vals, mask in taps:
        v = np.where(mask == 1, vals, 0).astype(np.float64)
        k = ((mask >= 1) if include else (mask == 1)).astype(np.int64)
        total, count = (v, k) if total is None else (total + v, count + k)
    return [(total / count).astype(x.dtype)]


def _macs(node, ins, outs):
    kh, kw = node.attrs["kernel_shape"]
    return outs[0].size * kh * kw


for _op in ("MaxPool", "AveragePool"):
    register(OpDef(_op, "reduction", _infer, _reference, macs=_macs, normalize=_normalize,
                   doc=f"2-D {_op} with pads, strides, dilations, ceil_mode"))


def _global_infer(node, ins):
    x = ins[0]
    if len(x.shape) < 3:
        raise OpError(node, f"input rank {len(x.shape)} < 3")
    return [(tuple(x.shape[:2]) + (1,) * (len(x.shape) - 2), x.dtype)]


def _global_ref(node, arrays):
    x = arrays[0]
    axes = tuple(range(2, x.ndim))
    f = np.mean if node.op == "GlobalAveragePool" else np.max
    return [f(x.astype(np.float64), axis=axes, keepdims=True).astype(x.dtype)]


for _op in ("GlobalAveragePool", "GlobalMaxPool"):
    register(OpDef(_op, "reduction", _global_infer, _global_ref, doc=f"{_op} over all spatial dims"))
