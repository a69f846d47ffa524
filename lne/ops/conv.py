"""Conv: 2-D convolution with groups (depthwise included), strides, dilations, explicit or
auto pads, optional bias and a fused activation epilogue (attrs["act"], set by fusion)."""
from __future__ import annotations

import numbers

import numpy as np

from . import activation
from .base import OpDef, OpError, check_rank, register
from .spatial import INT32_MAX, out_hw, window_attrs


def _normalize(node, graph):
    x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
    check_rank(node, x, {4})
    check_rank(node, w, {4}, "weight")
    window_attrs(node, x.shape[2:], tuple(node.attrs.get("kernel_shape") or w.shape[2:]))
    group = node.attrs.setdefault("group", 1)
    if not isinstance(group, numbers.Integral) or isinstance(group, bool) or not 1 <= group <= INT32_MAX:
        raise OpError(node, f"attribute group={str(group)[:40]} must be a positive integer that fits the kernels' "
                            f"32-bit fields (at most {INT32_MAX})")
    node.attrs["group"] = int(group)
    node.attrs.setdefault("act", None)


def _infer(node, ins):
    x, w = ins[0], ins[1]
    n, c, h, wd = x.shape
    m, cg = w.shape[0], w.shape[1]
    g = node.attrs["group"]
    if g < 1 or c % g or m % g or cg * g != c:
        raise OpError(node, f"group={g} does not divide input channels {c} / weight {list(w.shape)}")
    if list(w.shape[2:]) != list(node.attrs["kernel_shape"]):
        raise OpError(node, f"kernel_shape {node.attrs['kernel_shape']} disagrees with weight {list(w.shape)}")
    if len(ins) > 2 and ins[2] is not None and tuple(ins[2].shape) != (m,):
        raise OpError(node, f"bias shape {list(ins[2].shape)} is not [{m}]")
    oh, ow = out_hw(node, h, wd)
    return [((n, m, oh, ow), x.dtype)]


def conv2d(x, w, b, attrs):
    """Reference convolution: one einsum per kernel tap, all groups at once."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = (attrs["kernel_shape"], attrs["strides"],
                                                      attrs["dilations"], attrs["pads"])
    g = attrs["group"]
    n, c, h, wd = x.shape
    m = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    ow = (wd + pl + pr - (kw - 1) * dw - 1) // sw + 1
    xg = xp.reshape(n, g, c // g, *xp.shape[2:]).astype(np.float64)
    wg = w.reshape(g, m // g, c // g, kh, kw).astype(np.float64)
    y = np.zeros((n, g, m // g, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            patch = xg[:, :, :, ky * dh: ky * dh + sh * (oh - 1) + 1: sh, kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
            y += np.einsum("ngchw,gmc->ngmhw", patch, wg[:, :, :, ky, kx])
    y = y.reshape(n, m, oh, ow)
    if b is not None:
        y += b.reshape(1, m, 1, 1)
    return activation.apply(attrs.get("act"), y.astype(x.dtype))


def _reference(node, arrays):
    return [conv2d(arrays[0], arrays[1], arrays[2] if len(arrays) > 2 else None, node.attrs)]


def _macs(node, ins, outs):
    w = ins[1].shape
    return outs[0].size * w[1] * w[2] * w[3]


register(OpDef("Conv", "out-fusable", _infer, _reference, macs=_macs, normalize=_normalize,
               doc="2-D convolution, groups/depthwise, strides, dilations, pads, auto_pad"))
