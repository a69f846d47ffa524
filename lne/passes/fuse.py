"""Rewrites that fold or fuse nodes into their producer or consumer:
BatchNormalization / Mul / Add by constants into Conv and Gemm weights, Pad into Conv and Pool,
and activations into Conv, Gemm, Add and ChannelAffine epilogues."""
from __future__ import annotations

import numpy as np

from ..ops.activation import ACT_KINDS, act_of
from ..ops.base import OpError
from ..ops.norm import bn_scale_bias

ACT_HOSTS = ("Conv", "Gemm", "Add", "ChannelAffine")


def _sole_consumer(g, tensor: str, consumers, outputs=None) -> bool:
    outputs = g.outputs if outputs is None else outputs
    return tensor not in outputs and len(consumers.get(tensor, [])) == 1


def _channel_vector(node, g, const: np.ndarray, out_shape) -> np.ndarray | None:
    """`const` as a per-output-channel vector (axis 1), if it broadcasts that way only."""
    if const.ndim > len(out_shape):
        return None
    c = const.reshape((1,) * (len(out_shape) - const.ndim) + const.shape)
    if any(d != 1 for i, d in enumerate(c.shape) if i != 1) or c.shape[1] not in (1, out_shape[1]):
        return None
    return np.broadcast_to(c.reshape(-1).astype(np.float64), (out_shape[1],))


def _scale_shift(g, host, scale: np.ndarray | None, shift: np.ndarray | None) -> None:
    """Make `host` (Conv or Gemm, no activation yet) compute y * scale + shift per channel."""
    w = g.tensors[host.inputs[1]].data.astype(np.float64)
    n_out = g.tensors[host.outputs[0]].shape[1]
    bias_name = host.input(2)
    bias = g.const(bias_name) if bias_name else None
    if host.op == "Conv":
        b = np.zeros(n_out) if bias is None else bias.astype(np.float64)
        if scale is not None:
            w = w * scale.reshape(-1, 1, 1, 1)
            b = b * scale
        if shift is not None:
            b = b + shift
    else:  # Gemm: y = alpha * A B' + beta * C
        a = host.attrs
        m = g.tensors[host.outputs[0]].shape[0]
        c = np.zeros((1, n_out)) if bias is None else np.broadcast_to(
            bias.astype(np.float64) * a["beta"], np.broadcast_shapes(bias.shape, (1, n_out)))
        if c.ndim < 2:
            c = c.reshape(1, -1)
        if scale is not None:
            w = w * (scale.reshape(-1, 1) if a["transB"] else scale.reshape(1, -1))
            c = c * scale.reshape(1, -1)
        if shift is not None:
            c = c + shift.reshape(1, -1)
        b = c.reshape(-1) if c.shape[0] == 1 else np.broadcast_to(c, (m, n_out))
        a["beta"] = 1.0
    dtype = g.tensors[host.inputs[1]].dtype
    host.inputs[1] = g.add_const(g.fresh_name(host.inputs[1] + "_folded"), w.astype(dtype)).name
    new_bias = g.add_const(g.fresh_name((bias_name or host.outputs[0]) + "_bias"), np.ascontiguousarray(b, dtype))
    host.inputs[2:] = [new_bias.name]


def fold_batchnorm(g, options) -> None:
    """Fold BatchNormalization, and Mul/Add/Sub/Div by a per-channel constant, into the Conv or
    Gemm that produces their input; a BatchNormalization that cannot fold becomes ChannelAffine.
    One walk in node order (a fold only changes the node and its host, so nothing earlier
    becomes foldable), producers kept up to date: linear in the graph."""
    prods, cons = g.producers(), g.consumers()
    outputs = set(g.outputs)
    removed: set[int] = set()
    for node in list(g.nodes):
        if node.op not in ("BatchNormalization", "Mul", "Add", "Sub", "Div"):
            continue
        if node.op in ("Add", "Mul") and g.const(node.inputs[0]) is not None:
            node.inputs = node.inputs[::-1]  # constant second: they commute
        x = node.inputs[0]
        host = prods.get(x)
        foldable_host = (host is not None and host.op in ("Conv", "Gemm") and host.attrs.get("act") is None
                         and g.tensors[host.inputs[1]].is_const and (not host.input(2) or g.const(host.input(2)) is not None)
                         and _sole_consumer(g, x, cons, outputs))
        out_shape = g.tensors[node.outputs[0]].shape
        if node.op == "BatchNormalization":
            params = [g.const(i) for i in node.inputs[1:5]]
            if any(p is None for p in params):
                raise OpError(node, "scale, B, mean and var must be constants (inference BatchNormalization)")
            scale, shift = bn_scale_bias(*params, node.attrs.get("epsilon", 1e-5))
        else:
            const = g.const(node.inputs[1])
            if const is None or g.tensors[x].shape != out_shape or not foldable_host:
                continue
            vec = _channel_vector(node, g, const, out_shape)
            if vec is None:
                continue
            scale = {"Mul": vec, "Div": 1.0 / vec}.get(node.op)
            shift = {"Add": vec, "Sub": -vec}.get(node.op)
        if foldable_host:
            _scale_shift(g, host, scale, shift)
            host.outputs[0] = node.outputs[0]
            prods.pop(x, None)
            prods[node.outputs[0]] = host
            removed.add(id(node))
        else:  # lone BatchNormalization: a per-channel affine kernel
            s = g.add_const(g.fresh_name(x + "_bn_scale"), scale.astype(np.float32))
            b = g.add_const(g.fresh_name(x + "_bn_bias"), shift.astype(np.float32))
            node.op, node.inputs, node.attrs = "ChannelAffine", [x, s.name, b.name], {"act": None}
            for extra in node.outputs[1:]:
                if prods.get(extra) is node:
                    del prods[extra]
            node.outputs = node.outputs[:1]
    if removed:
        g.nodes = [n for n in g.nodes if id(n) not in removed]


def fuse_pad(g, options) -> None:
    """Fold a zero constant Pad on the spatial axes into the Conv (or count_include_pad
    AveragePool, or -inf MaxPool) that alone consumes it."""
    cons = g.consumers()
    outputs = set(g.outputs)
    removed: set[int] = set()
    for pad in [n for n in g.nodes if n.op == "Pad"]:
        a, rank = pad.attrs, len(g.tensors[pad.inputs[0]].shape)
        users = cons.get(pad.outputs[0], [])
        if a["mode"] != "constant" or rank != 4 or not _sole_consumer(g, pad.outputs[0], cons, outputs):
            continue
        p = a["pads"]
        if any(p[i] != 0 for i in (0, 1, 4, 5)) or min(p) < 0:
            continue
        user = users[0]
        ok = (user.op == "Conv" and a["value"] == 0.0 and user.inputs[0] == pad.outputs[0]) or \
             (user.op == "AveragePool" and a["value"] == 0.0 and user.attrs["count_include_pad"]) or \
             (user.op == "MaxPool" and a["value"] == -np.inf)
        if not ok:
            continue
        up = user.attrs["pads"]
        user.attrs["pads"] = [up[0] + p[2], up[1] + p[3], up[2] + p[6], up[3] + p[7]]
        user.inputs[0] = pad.inputs[0]
        removed.add(id(pad))
    if removed:
        g.nodes = [n for n in g.nodes if id(n) not in removed]


def fuse_activations(g, options) -> None:
    """Run an activation as the epilogue of the Conv/Gemm/Add/ChannelAffine that feeds it
    (producers updated per fusion, not recomputed: linear in the graph)."""
    prods, cons = g.producers(), g.consumers()
    outputs = set(g.outputs)
    removed: set[int] = set()
    for node in [n for n in g.nodes if n.op in ACT_KINDS]:
        host = prods.get(node.inputs[0])
        if host is None or host.op not in ACT_HOSTS or host.attrs.get("act") is not None:
            continue
        if not _sole_consumer(g, node.inputs[0], cons, outputs):
            continue
        if host.op == "Add" and g.tensors[host.outputs[0]].shape != g.tensors[node.outputs[0]].shape:
            continue
        host.attrs["act"] = act_of(node)
        prods.pop(host.outputs[0], None)
        host.outputs[0] = node.outputs[0]
        prods[node.outputs[0]] = host
        removed.add(id(node))
    if removed:
        g.nodes = [n for n in g.nodes if id(n) not in removed]
