"""Data movement kernels: concat (or in place, no code), transpose, pad, views (no code)."""
from __future__ import annotations

import math

import numpy as np

from .registry import Emitter, KernelDef, register

MAX_RANK = 6


def concat_layout(node, g) -> tuple[int, list[int]]:
    """(outer, inner sizes per input) of a Concat."""
    shape = g.tensors[node.outputs[0]].shape
    axis = node.attrs["axis"] % len(shape)
    outer = math.prod(shape[:axis])
    inner = [math.prod(g.tensors[i].shape[axis:]) for i in node.inputs]
    return outer, inner


def _concat(e: Emitter) -> str:
    outer, inner = concat_layout(e.node, e.graph)
    xs, sizes = f"kX{e.uid}", f"kS{e.uid}"
    e.decls.append(f"static const int64_t {sizes}[] = {{{', '.join(map(str, inner))}}};")
    return (f"const float* {xs}[] = {{{', '.join(e.inputs)}}};\n"
            f"  lne::concat_f32_ref({outer}, {len(inner)}, {xs}, {sizes}, {e.outputs[0]});")


def _transpose(e: Emitter) -> str:
    shape = e.in_shape(0)
    perm = e.node.attrs.get("perm") or list(range(len(shape)))[::-1]
    pad = MAX_RANK - len(shape)
    p = e.params("lne::TransposeParams", [len(shape), list(shape) + [1] * pad, list(perm) + list(range(len(shape), MAX_RANK))])
    return f"lne::transpose_f32_ref({p}, {e.inputs[0]}, {e.outputs[0]});"


def _pad(e: Emitter) -> str:
    shape, out = e.in_shape(0), e.out_shape()
    a, r = e.node.attrs, len(shape)
    pad = MAX_RANK - r
    mode = {"constant": 0, "reflect": 1, "edge": 2}[a["mode"]]
    p = e.params("lne::PadParams", [r, list(shape) + [1] * pad, list(out) + [1] * pad,
                                    list(a["pads"][:r]) + [0] * pad, mode, float(a["value"])])
    return f"lne::pad_f32_ref({p}, {e.inputs[0]}, {e.outputs[0]});"


def _rank_ok(node, g) -> bool:
    return len(g.tensors[node.inputs[0]].shape) <= MAX_RANK


def _no_code(e: Emitter) -> str:
    return ""


register(KernelDef("Concat", "ref", "kernels/tensor/concat_ref.h", _concat, family="concat", inplace=False))
register(KernelDef("Concat", "inplace", None, _no_code, family="concat", priority=-1))  # chosen by plan_memory
register(KernelDef("Transpose", "ref", "kernels/tensor/transpose_ref.h", _transpose, family="transpose",
                   applies=_rank_ok))
register(KernelDef("Pad", "ref", "kernels/tensor/pad_ref.h", _pad, family="pad", applies=_rank_ok))
for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"):
    register(KernelDef(_op, "view", None, _no_code, family=_op.lower()))
