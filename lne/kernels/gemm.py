"""Gemm (fully connected) and MatMul kernels: reference and cache-blocked."""
from __future__ import annotations

import math

import numpy as np

from .registry import Emitter, KernelDef, c_act, register


def gemm_params(e: Emitter) -> list:
    a = e.node.attrs
    m, n = e.out_shape()
    k = e.in_shape(0)[0] if a["transA"] else e.in_shape(0)[1]
    c_rows, c_cols = 1, 1
    if len(e.node.inputs) > 2 and e.node.inputs[2]:
        cs = (1, 1) + tuple(e.in_shape(2))
        c_rows, c_cols = cs[-2], cs[-1]
    return [m, n, k, a["transA"], a["transB"], float(a["alpha"]), float(a["beta"]), c_rows, c_cols,
            c_act(a.get("act"))]


def _gemm(fn):
    def emit(e: Emitter) -> str:
        p = e.params("lne::GemmParams", gemm_params(e))
        c = e.inputs[2] if len(e.inputs) > 2 else "nullptr"
        return f"lne::{fn}({p}, {e.inputs[0]}, {e.inputs[1]}, {c}, {e.outputs[0]});"
    return emit


register(KernelDef("Gemm", "ref", "kernels/gemm/gemm_ref.h", _gemm("gemm_f32_ref"), family="gemm"))
register(KernelDef("Gemm", "blocked", "kernels/gemm/gemm_blocked.h", _gemm("gemm_f32_blocked"), family="gemm",
                   priority=10, applies=lambda n, g: not n.attrs["transA"] and not n.attrs["transB"]))


def matmul_params(node, g) -> list | None:
    """[batch, m, n, k, a_batch_stride, b_batch_stride], or None when the batch dims broadcast
    in a way the kernel does not cover (each operand's batch must be 1 or the output's)."""
    a, b = g.tensors[node.inputs[0]].shape, g.tensors[node.inputs[1]].shape
    a2 = tuple(a) if len(a) > 1 else (1,) + tuple(a)
    b2 = tuple(b) if len(b) > 1 else tuple(b) + (1,)
    m, k, n = a2[-2], a2[-1], b2[-1]
    batch_shape = np.broadcast_shapes(a2[:-2], b2[:-2])
    batch = math.prod(batch_shape)
    strides = []
    for shape, size in ((a2, m * k), (b2, k * n)):
        own = math.prod(shape[:-2])
        if own == batch and tuple((1,) * (len(batch_shape) - len(shape[:-2])) + shape[:-2]) == tuple(batch_shape):
            strides.append(size if batch > 1 else 0)
        elif own == 1:
            strides.append(0)
        else:
            return None
    return [batch, m, n, k, strides[0], strides[1]]


def _matmul(fn):
    def emit(e: Emitter) -> str:
        p = e.params("lne::MatMulParams", matmul_params(e.node, e.graph))
        return f"lne::{fn}({p}, {e.inputs[0]}, {e.inputs[1]}, {e.outputs[0]});"
    return emit


def _matmul_applies(node, g) -> bool:
    return matmul_params(node, g) is not None


register(KernelDef("MatMul", "ref", "kernels/gemm/gemm_ref.h", _matmul("matmul_f32_ref"), family="matmul",
                   applies=_matmul_applies))
register(KernelDef("MatMul", "blocked", "kernels/gemm/gemm_blocked.h", _matmul("matmul_f32_blocked"),
                   family="matmul", priority=10, applies=_matmul_applies))
