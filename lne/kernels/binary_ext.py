"""Kernels for Max / Min (variadic: a chain of binary calls into the output) and Pow."""
from __future__ import annotations

from .eltwise import MAX_RANK, binary_params
from .registry import Emitter, KernelDef, c_value, register

BIN_MAX, BIN_MIN = 5, 6  # lne::BinaryKind


def _rank_ok(node, g) -> bool:
    return len(g.tensors[node.outputs[0]].shape) <= MAX_RANK


def _minmax(e: Emitter) -> str:
    kind = BIN_MAX if e.node.op == "Max" else BIN_MIN
    out = e.out_shape()
    if len(e.inputs) == 1:  # op(x, x) = x
        p = e.params("lne::BinaryParams", binary_params(kind, out, out, out, None))
        return f"lne::binary_f32_ref({p}, {e.inputs[0]}, {e.inputs[0]}, {e.outputs[0]});"
    # y = op(x0, x1), then y = op(y, xk): every call writes the full output shape, and an
    # output sharing x0's or x1's buffer (in place) is only read at the element it writes
    calls = []
    for k in range(1, len(e.inputs)):
        a_shape, a_ptr = (e.in_shape(0), e.inputs[0]) if k == 1 else (out, e.outputs[0])
        name = f"kP{e.uid}_{k}"
        e.decls.append(f"static const lne::BinaryParams {name} = "
                       f"{c_value(binary_params(kind, a_shape, e.in_shape(k), out, None))};")
        calls.append(f"lne::binary_f32_ref({name}, {a_ptr}, {e.inputs[k]}, {e.outputs[0]});")
    return "\n  ".join(calls)


def _pow(e: Emitter) -> str:
    p = e.params("lne::BinaryParams", binary_params(0, e.in_shape(0), e.in_shape(1), e.out_shape(), None))
    return f"lne::pow_f32_ref({p}, {e.inputs[0]}, {e.inputs[1]}, {e.outputs[0]});"


for _op in ("Max", "Min"):
    register(KernelDef(_op, "ref", "kernels/eltwise/binary_ref.h", _minmax, family="binary", applies=_rank_ok))
register(KernelDef("Pow", "ref", "kernels/eltwise/pow_ref.h", _pow, family="pow", applies=_rank_ok))
