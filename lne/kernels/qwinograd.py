"""Exact integer Winograd F(2x2, 3x3) for int8 3x3 convolutions on AVX2
(runtime/kernels/quant/qwinograd_avx2.h): weights transformed at compile time with G' = 2G
(integer entries), packed per tile position like the int8 GEMM's panels, as int16."""
from __future__ import annotations

import numpy as np

from .quant import _ok8, _weights_int8, conv_call, pack_weights
from .registry import KernelDef, register

G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)  # 2 x G of F(2x2, 3x3)
TILES = 64      # tiles per block (multiple of 16): the 16 column-panel sets stay in L2
MAX_C = 1800    # |M| = |sum_c U V| <= C * 1152 * 1020 < 2^31


def transform_weights(w: np.ndarray) -> np.ndarray:
    """int8 [m, c, 3, 3] -> U = G' w G'^T, int16 panels: 16 positions, each pack_weights([m, c])."""
    u = np.einsum("ij,mcjk,lk->mcil", G2, w.astype(np.int64), G2)  # [m, c, 4, 4]
    assert np.abs(u).max(initial=0) <= 9 * 128
    u = u.reshape(w.shape[0], w.shape[1], 16).astype(np.int16)
    return np.concatenate([pack_weights(np.ascontiguousarray(u[:, :, xi]), 1) for xi in range(16)])


def _geometry(node, g):
    n, c, h, w = g.tensors[node.inputs[0]].shape
    _, m, oh, ow = g.tensors[node.outputs[0]].shape
    return c, m, oh, ow


def _q(node, g) -> list:
    """QWino {kp, nt, vt, scratch bytes}."""
    c, m, oh, ow = _geometry(node, g)
    th, tw = -(-oh // 2), -(-ow // 2)
    kp, nt = c + (c & 1), min(TILES, -(-th * tw // 16) * 16)
    planes = -(-c * (2 * th + 2) * (2 * tw + 18) // 16) * 16    # qwino_rows x qwino_cols per channel
    scratch = 2 * (planes + 16 * c * (nt + 8) + 16 * nt * kp) + 4 * 16 * m * nt + 5 * nt
    return [kp, nt, nt + 8, scratch]


def _applies(node, g) -> bool:
    a = node.attrs
    return (_ok8(g, node.inputs[0]) and _ok8(g, node.outputs[0]) and _weights_int8(node, g)
            and a["group"] == 1 and tuple(a["kernel_shape"]) == (3, 3) and tuple(a["strides"]) == (1, 1)
            and tuple(a["dilations"]) == (1, 1) and _geometry(node, g)[0] < MAX_C)


def _prepare(node, g) -> dict:
    u = transform_weights(g.const(node.inputs[1]))
    return {1: g.add_const(g.fresh_name(f"{node.inputs[1]}_qwino"), u).name}


register(KernelDef("QConv", "winograd", "kernels/quant/qwinograd_avx2.h",
                   conv_call("qconv2d_winograd_avx2", "QWino", _q, "int16_t"), family="qconv2d", dtype="int8",
                   isa="avx2", priority=12, applies=_applies, scratch=lambda n, g: _q(n, g)[3], prepare=_prepare))
