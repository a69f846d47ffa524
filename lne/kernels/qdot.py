"""int8 convolution with the Armv8.2 dot product (sdot) for targets with the dotprod feature
(runtime/kernels/quant/qgemm_dot.h): weights packed at compile time in tiles of 16 output
channels x 4 consecutive k, [tiles][ceil(K / 4)][16][4], zero padded."""
from __future__ import annotations

import math

import numpy as np

from .quant import _ok8, _qconv_k, _weights_int8, conv_call
from .registry import KernelDef, register

BLOCK = 64   # im2col columns per block (multiple of 4)


def pack_weights_dot(w: np.ndarray) -> np.ndarray:
    """int8 [m, ...] (one group) -> [ceil(m / 16)][ceil(K / 4)][16][4] int8, zero padded."""
    m = w.shape[0]
    k = math.prod(w.shape[1:])
    tiles, kq = -(-m // 16), -(-k // 4)
    full = np.zeros((tiles * 16, kq * 4), np.int8)
    full[:m, :k] = w.reshape(m, k)
    return np.ascontiguousarray(full.reshape(tiles, 16, kq, 4).transpose(0, 2, 1, 3).reshape(-1))


def _q(node, g) -> list:
    """QDotPack {k, kq, nb, scratch bytes}."""
    k = _qconv_k(node, g)
    _, m, oh, ow = g.tensors[node.outputs[0]].shape
    kq, nb = -(-k // 4), min(BLOCK, -(-(oh * ow) // 4) * 4)
    return [k, kq, nb, -(-(nb * kq * 4) // 16) * 16 + 4 * m]


def _applies(node, g) -> bool:
    return (_ok8(g, node.inputs[0]) and _ok8(g, node.outputs[0]) and _weights_int8(node, g)
            and node.attrs["group"] == 1 and _qconv_k(node, g) < 32768)


def _prepare(node, g) -> dict:
    w = pack_weights_dot(g.const(node.inputs[1]))
    return {1: g.add_const(g.fresh_name(f"{node.inputs[1]}_qdot"), w).name}


register(KernelDef("QConv", "dot", "kernels/quant/qgemm_dot.h", conv_call("qconv2d_dot", "QDotPack", _q), family="qconv2d", dtype="int8",
                   isa="dotprod", priority=15, applies=_applies, scratch=lambda n, g: _q(n, g)[3], prepare=_prepare))
