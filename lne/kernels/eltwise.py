"""Elementwise kernels: activations, broadcasting binary ops (and PRelu), channel affine."""
from __future__ import annotations

import math

import numpy as np

from ..ops.activation import act_of
from ..ops.binary import KINDS
from .registry import Emitter, KernelDef, c_act, register

MAX_RANK = 6  # lne::kMaxRank
BIN_PRELU = 4


def _unary(e: Emitter) -> str:
    p = e.params("lne::Act", c_act(act_of(e.node)))
    n = math.prod(e.out_shape())
    return f"lne::unary_f32_ref({p}, {n}, {e.inputs[0]}, {e.outputs[0]});"


def broadcast_strides(shape, out_shape) -> list[int]:
    """Element strides of a contiguous `shape` read as `out_shape` (0 on broadcast axes)."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, step = [0] * len(shape), 1
    for i in reversed(range(len(shape))):
        strides[i] = step if shape[i] != 1 else 0
        step *= shape[i]
    return strides


def binary_params(kind: int, a_shape, b_shape, out_shape, act) -> list:
    """lne::BinaryParams, with leading dims merged so the rank fits kMaxRank."""
    out = tuple(out_shape) or (1,)
    sa, sb = broadcast_strides(a_shape, out), broadcast_strides(b_shape, out)
    while len(out) > MAX_RANK:  # merge the two leading axes (both operands contiguous there)
        out = (out[0] * out[1],) + out[2:]
        sa, sb = [sa[1]] + sa[2:], [sb[1]] + sb[2:]
    pad = MAX_RANK - len(out)
    return [kind, len(out), list(out) + [1] * pad, sa + [0] * pad, sb + [0] * pad, c_act(act)]


def _binary(e: Emitter) -> str:
    kind = BIN_PRELU if e.node.op == "PRelu" else KINDS[e.node.op]
    fields = binary_params(kind, e.in_shape(0), e.in_shape(1), e.out_shape(), e.node.attrs.get("act"))
    p = e.params("lne::BinaryParams", fields)
    return f"lne::binary_f32_ref({p}, {e.inputs[0]}, {e.inputs[1]}, {e.outputs[0]});"


def _binary_applies(node, g) -> bool:
    # merging leading axes is only valid while they broadcast alike; the rank-6 limit covers the rest
    return len(g.tensors[node.outputs[0]].shape) <= MAX_RANK


def _affine(e: Emitter) -> str:
    shape = e.in_shape(0)
    inner = math.prod(shape[2:])
    act = e.params("lne::Act", c_act(e.node.attrs.get("act")))
    return (f"lne::channel_affine_f32_ref({shape[0]}, {shape[1]}, {inner}, {e.inputs[0]}, {e.inputs[1]}, "
            f"{e.inputs[2]}, {act}, {e.outputs[0]});")


for _op in ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish"):
    register(KernelDef(_op, "ref", "kernels/eltwise/unary_ref.h", _unary, family="unary", layout="any"))
for _op in ("Add", "Sub", "Mul", "Div", "PRelu"):
    register(KernelDef(_op, "ref", "kernels/eltwise/binary_ref.h", _binary, family="binary", layout="any",
                       applies=_binary_applies))
register(KernelDef("ChannelAffine", "ref", "kernels/eltwise/channel_affine_ref.h", _affine, family="channel_affine"))
