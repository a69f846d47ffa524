"""Gemm (fully connected: alpha*A'B' + beta*C, fused activation) and MatMul (numpy matmul)."""
from __future__ import annotations

import numpy as np

from . import activation
from .base import OpDef, OpError, register


def _gemm_normalize(node, graph):
    a = node.attrs
    a.setdefault("alpha", 1.0)
    a.setdefault("beta", 1.0)
    a["transA"] = int(bool(a.get("transA", 0)))  # 0 / 1 (int32 fields of lne::GemmParams)
    a["transB"] = int(bool(a.get("transB", 0)))
    a.setdefault("act", None)


def _gemm_infer(node, ins):
    a, b = ins[0].shape, ins[1].shape
    if len(a) != 2 or len(b) != 2:
        raise OpError(node, f"Gemm needs 2-D operands, got {list(a)} and {list(b)}")
    m, k = (a[1], a[0]) if node.attrs["transA"] else a
    k2, n = (b[1], b[0]) if node.attrs["transB"] else b
    if k != k2:
        raise OpError(node, f"inner dimensions differ: A gives {k}, B gives {k2}")
    if len(ins) > 2 and ins[2] is not None:
        c = ins[2].shape
        try:
            if tuple(np.broadcast_shapes(c, (m, n))) != (m, n):
                raise ValueError
        except ValueError:
            raise OpError(node, f"C shape {list(c)} does not broadcast to [{m}, {n}]") from None
    return [((m, n), ins[0].dtype)]


def _gemm_ref(node, arrays):
    at = node.attrs
    a, b = arrays[0].astype(np.float64), arrays[1].astype(np.float64)
    a = a.T if at["transA"] else a
    b = b.T if at["transB"] else b
    y = at["alpha"] * (a @ b)
    if len(arrays) > 2 and arrays[2] is not None:
        y = y + at["beta"] * arrays[2]
    return [activation.apply(at.get("act"), y.astype(arrays[0].dtype))]


def _gemm_macs(node, ins, outs):
    k = ins[0].shape[0] if node.attrs["transA"] else ins[0].shape[1]
    return outs[0].size * k


register(OpDef("Gemm", "out-fusable", _gemm_infer, _gemm_ref, macs=_gemm_macs,
               normalize=_gemm_normalize, doc="general matrix multiply with bias (fully connected)"))


def _matmul_infer(node, ins):
    a, b = ins[0].shape, ins[1].shape
    if len(a) < 1 or len(b) < 1:
        raise OpError(node, "MatMul operands must have rank >= 1")
    try:
        shape = _matmul_shape(a, b)
    except ValueError as e:
        raise OpError(node, f"shapes {list(a)} and {list(b)} do not multiply: {e}") from None
    return [(tuple(shape), ins[0].dtype)]


def _matmul_shape(a, b):
    a2 = a if len(a) > 1 else (1,) + tuple(a)
    b2 = b if len(b) > 1 else tuple(b) + (1,)
    if a2[-1] != b2[-2]:
        raise ValueError("inner dimensions differ")
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    out = tuple(batch) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _matmul_ref(node, arrays):
    return [np.matmul(arrays[0].astype(np.float64), arrays[1]).astype(arrays[0].dtype)]


def _matmul_macs(node, ins, outs):
    return outs[0].size * ins[0].shape[-1]


register(OpDef("MatMul", "out-fusable", _matmul_infer, _matmul_ref, macs=_matmul_macs,
               doc="numpy-style matrix product with batch broadcasting"))
