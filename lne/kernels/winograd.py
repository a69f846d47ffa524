"""Winograd convolution kernels F(2x2, 3x3), F(4x4, 3x3) and F(2x2, 5x5)
(runtime/kernels/conv/conv_winograd.h).

The weights are transformed at compile time (U = G g G^T per output/input channel pair, in
float64) and stored as the kernel reads them: per group and transform position, 16-output-channel
GEMM panels [group][pos][M/16][C][16]. Which variant (if any) beats im2col is decided per shape
by `choose()`, a cost model calibrated on this machine's per-layer measurements (ResNet50,
GoogLeNet, SqueezeNet, AlexNet and the KWS networks).
"""
from __future__ import annotations

import numpy as np

from .conv import conv_params
from .registry import Emitter, KernelDef, register

PANEL = 16  # output channels per GEMM panel (kPgNR)
LANES = 8   # tile stride slack of the input transform (kWinoLanes)

POINTS = (0.0, 1.0, -1.0, 2.0, -2.0)   # interpolation points (plus the point at infinity)
SCALE = {4: (1.0, 0.5, 0.5), 6: (1 / 4, -1 / 6, -1 / 6, 1 / 24, 1 / 24)}  # f_i matching B^T
VARIANTS = ((2, 3), (4, 3), (2, 5))     # (mt, r) of F(mt x mt, r x r)


def g_matrix(mt: int, r: int) -> np.ndarray:
    """G (alpha x r) of F(mt x mt, r x r): row i = f_i (1, p_i, p_i^2, ...), last row the point at
    infinity (0, ..., 0, 1). Mirrors wino_g() in the C++ header."""
    a = mt + r - 1
    g = np.zeros((a, r))
    for i in range(a - 1):
        g[i] = SCALE[a][i] * POINTS[i] ** np.arange(r)
    g[a - 1, r - 1] = 1.0
    return g


def transform_weights(w: np.ndarray, mt: int, group: int = 1) -> np.ndarray:
    """w [m, c/group, r, r] -> float32 [group, alpha^2, ceil(m/group/16), c/group, 16] (zero past
    m/group): what winograd_f32_transform_weights() computes in C++."""
    m, cg, r = w.shape[0], w.shape[1], w.shape[2]
    mg, a = m // group, mt + r - 1
    G = g_matrix(mt, r)
    u = np.einsum("ik,gmckl,jl->gijmc", G, w.reshape(group, mg, cg, r, r).astype(np.float64), G)
    u = u.reshape(group, a * a, mg, cg)
    mp = -(-mg // PANEL) * PANEL
    if mp > mg:
        u = np.concatenate([u, np.zeros((group, a * a, mp - mg, cg))], axis=2)
    u = u.reshape(group, a * a, mp // PANEL, PANEL, cg).transpose(0, 1, 2, 4, 3)
    return np.ascontiguousarray(u, dtype=np.float32)


def tiles(oh: int, ow: int, mt: int) -> int:
    return -(-oh // mt) * -(-ow // mt)


def scratch_floats(c: int, m: int, oh: int, ow: int, mt: int, group: int = 1, r: int = 3) -> int:
    """Mirror of winograd_f32_scratch() (one group at a time): V [pos][c][tile stride] +
    O [tiles][pos][m rounded to 16]."""
    a2 = (mt + r - 1) ** 2
    c, m = c // group, m // group
    t = tiles(oh, ow, mt)
    ts = (t + LANES + 7) // 8 * 8
    return a2 * c * ts + a2 * t * (-(-m // PANEL) * PANEL)


def _shape(node, g):
    """(c, m, oh, ow) per group, and the group count."""
    n, c, h, w = g.tensors[node.inputs[0]].shape
    _, m, oh, ow = g.tensors[node.outputs[0]].shape
    grp = node.attrs["group"]
    return (c // grp, m // grp, oh, ow), grp


def eligible(node, g) -> bool:
    a = node.attrs
    (c, m, oh, ow), grp = _shape(node, g)
    kh, kw = a["kernel_shape"]
    return (kh == kw and kh in (3, 5) and list(a["strides"]) == [1, 1] and list(a["dilations"]) == [1, 1]
            and g.const(node.inputs[1]) is not None and ow <= 1000 and c > 1)


def cost(c: int, m: int, oh: int, ow: int, mt: int | None, r: int = 3) -> float:
    """Estimated seconds of one r x r conv (per group): im2col (mt None) or Winograd
    F(mt x mt, r x r). GEMM rates: the blocked im2col GEMM runs at ~80 GFLOP/s; the Winograd GEMMs
    are the same micro-kernel on 16-channel panels and 6-tile strips (padding waste counted),
    bound by streaming the transformed weights once they stop fitting in L2 (few tiles each)."""
    if mt is None:
        return 2.0 * c * m * r * r * oh * ow / 80e9 + 4.0 * c * r * r * oh * ow / 8e9
    a2 = (mt + r - 1) ** 2
    t = tiles(oh, ow, mt)
    mp = -(-m // PANEL) * PANEL
    tp = -(-t // 6) * 6
    gemm = 2.0 * a2 * tp * mp * c / 85e9
    wbytes = 4.0 * a2 * mp * c
    mem = wbytes / 20e9 if wbytes > 2 ** 20 else 0.0  # weights streamed from L3 / DRAM
    transforms = (a2 * c * t + a2 * t * mp) * 4.0 / 12e9
    return max(gemm, mem) + transforms


def choose(c: int, m: int, oh: int, ow: int, r: int = 3):
    """The fastest of im2col (None) and the Winograd tile sizes mt available for r x r."""
    options = [None] + [mt for mt, rr in VARIANTS if rr == r]
    return min(options, key=lambda mt: cost(c, m, oh, ow, mt, r))


def _variant(mt: int, r: int):
    def applies(node, g) -> bool:
        return (eligible(node, g) and node.attrs["kernel_shape"][0] == r
                and choose(*_shape(node, g)[0], r=r) == mt)

    def scratch(node, g) -> int:
        (c, m, oh, ow), grp = _shape(node, g)
        return 4 * scratch_floats(c * grp, m * grp, oh, ow, mt, grp, r)

    def prepare(node, g) -> dict:
        w = g.const(node.inputs[1])
        name = g.fresh_name(f"{node.inputs[1]}_wino{mt}{r}")
        return {1: g.add_const(name, transform_weights(w, mt, node.attrs["group"])).name}

    def emit(e: Emitter) -> str:
        p = e.params("lne::ConvParams", conv_params(e))
        bias = e.inputs[2] if len(e.inputs) > 2 else "nullptr"
        return (f"lne::conv2d_f32_winograd_f{mt}{r}({p}, {e.inputs[0]}, {e.inputs[1]}, {bias}, "
                f"{e.outputs[0]}, {e.scratch});")

    return KernelDef("Conv", f"winograd_f{mt}{r}", "kernels/conv/conv_winograd.h", emit, family="conv2d",
                     priority=15, applies=applies, scratch=scratch, prepare=prepare)


WINOGRAD = {v: register(_variant(*v)) for v in VARIANTS}
