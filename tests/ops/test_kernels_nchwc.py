"""Kernels on the blocked NCHW8c layout (runtime/kernels/conv/conv_nchwc.h, pool/pool_nchwc.h,
tensor/reorder.h) against the numpy conv oracle, with the layout conversion done in numpy."""
import numpy as np
import pytest

import lne._kernels as K
from lne.kernels.nchwc import from_blocked, pack_depthwise, pack_gemm, pad_channels, to_blocked

from .test_kernels_conv import ACTS, conv_np, make


def _arrays(p, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    w = rng.standard_normal((p["m"], p["c"] // p["group"], p["kh"], p["kw"])).astype(np.float32)
    b = rng.standard_normal(p["m"]).astype(np.float32)
    return x, w, b


ZERO_KEEPING = (K.ACT_NONE, K.ACT_RELU, K.ACT_CLIP, K.ACT_LEAKY_RELU, K.ACT_TANH, K.ACT_HARD_SWISH)


def _check(yb, want, p):
    """yb: blocked output; its real channels match the oracle, its padding channels stay zero
    (for activations with act(0) == 0, the ones the layout pass fuses into padded outputs)."""
    atol = 1e-5 * np.sqrt(p["kh"] * p["kw"] * p["c"] // p["group"])
    m = want.shape[1]
    np.testing.assert_allclose(from_blocked(yb, m), want, rtol=1e-4, atol=atol)
    act = p["act"][0] if isinstance(p["act"], tuple) else p["act"]
    if act in ZERO_KEEPING and (act != K.ACT_CLIP or p["act"][1] <= 0 <= p["act"][2]):
        assert not from_blocked(yb)[:, m:].any()


POINTWISE = {  # (n, c, h, w, m): pixel counts around the 6-pixel strips, m = 8 mod 16, batch
    "7x7_c16_m24": (1, 16, 7, 7, 24),
    "1x1_c8_m8": (1, 8, 1, 1, 8),
    "5x3_c40_m48": (1, 40, 5, 3, 48),
    "13x11_c64_m32": (1, 64, 13, 11, 32),
    "batch2_c24_m40": (2, 24, 6, 5, 40),
    "deep_c520_m16": (1, 520, 4, 4, 16),  # weight blocks split across L2-sized panel groups
    "padded_c13_m21": (1, 13, 5, 7, 21),  # channel counts padded to 16 and 24
    "padded_c100_m100": (2, 100, 4, 2, 100),
}


@pytest.mark.parametrize("shape", POINTWISE.values(), ids=POINTWISE.keys())
@pytest.mark.parametrize("act", ACTS[:4], ids=lambda a: f"act{a[0]}")
def test_pointwise_matches_oracle(shape, act):
    n, c, h, w, m = shape
    p = make(n, c, h, w, m, 1, 1, act=act)
    x, wt, b = _arrays(p, 1)
    y = np.full((n, -(-m // 8), h, w, 8), np.nan, np.float32)
    K.conv2d_f32_pointwise_nchw8c(p, to_blocked(x), pack_gemm(wt, blocked_input=True), b, y)
    _check(y, conv_np(p, x, wt, b), p)


DEPTHWISE = {  # (n, c, h, w, k, stride, pads t,l,b,r)
    "3x3s1_same_9x13": (1, 16, 9, 13, 3, 1, (1, 1, 1, 1)),
    "3x3s2_same_odd": (1, 8, 11, 15, 3, 2, (1, 1, 1, 1)),
    "3x3s2_even_asym": (2, 24, 12, 10, 3, 2, (0, 0, 1, 1)),
    "5x5s1_same": (1, 8, 7, 9, 5, 1, (2, 2, 2, 2)),
    "5x5s2_big_pad": (1, 16, 6, 5, 5, 2, (2, 3, 2, 1)),
    "3x3_1x1_plane": (1, 8, 1, 1, 3, 1, (1, 1, 1, 1)),
    "3x3_valid_wide": (1, 8, 3, 40, 3, 1, (0, 0, 0, 0)),
    "3x3_thin_2wide": (1, 8, 17, 2, 3, 2, (1, 1, 1, 1)),
    "padded_c12_s2": (1, 12, 9, 8, 3, 2, (1, 1, 1, 1)),
    "padded_c100_s1": (2, 100, 5, 4, 3, 1, (1, 1, 1, 1)),
    "1x1_c30": (1, 30, 6, 5, 1, 1, (0, 0, 0, 0)),
    "1x1s2_c8": (1, 8, 7, 6, 1, 2, (0, 0, 0, 0)),
}


@pytest.mark.parametrize("case", DEPTHWISE.values(), ids=DEPTHWISE.keys())
@pytest.mark.parametrize("act", [ACTS[0], ACTS[2], ACTS[4]], ids=lambda a: f"act{a[0]}")
def test_depthwise_matches_oracle(case, act):
    n, c, h, w, k, s, pads = case
    p = make(n, c, h, w, c, k, k, s=(s, s), pads=pads, group=c, act=act)
    x, wt, b = _arrays(p, 2)
    y = np.full((n, -(-c // 8), p["oh"], p["ow"], 8), np.nan, np.float32)
    K.conv2d_f32_depthwise_nchw8c(p, to_blocked(x), pack_depthwise(wt), pad_channels(b), y)
    _check(y, conv_np(p, x, wt, b), p)


STARTERS = {  # NCHW input -> NCHW8c output (the first conv of a blocked region)
    "3x3s2_c3_m32": make(1, 3, 15, 17, 32, 3, 3, s=(2, 2), pads=(1, 1, 1, 1)),
    "10x4s2_c1_m8": make(1, 1, 20, 9, 8, 10, 4, s=(2, 2), pads=(4, 1, 5, 1)),
    "1x1_c5_m24": make(2, 5, 6, 7, 24, 1, 1),
    "3x3_tall_blocks": make(1, 4, 70, 30, 16, 3, 3, pads=(1, 1, 1, 1)),  # several im2col row blocks
    "padded_m20": make(2, 2, 9, 6, 20, 3, 3, pads=(1, 1, 1, 1)),
}


@pytest.mark.parametrize("p", STARTERS.values(), ids=STARTERS.keys())
def test_im2col_to_blocked_matches_oracle(p):
    p = dict(p, act=ACTS[1])
    x, wt, b = _arrays(p, 3)
    y = np.full((p["n"], -(-p["m"] // 8), p["oh"], p["ow"], 8), np.nan, np.float32)
    ns = K.conv2d_f32_im2col_scratch(p)
    scratch = np.full(ns, np.nan, np.float32) if ns else None
    K.conv2d_f32_im2col_nchw8c(p, x, pack_gemm(wt), b, y, scratch)
    _check(y, conv_np(p, x, wt, b), p)


@pytest.mark.parametrize("n,c,hw", [(1, 8, 1), (2, 16, 7), (1, 24, 64), (1, 8, 67), (2, 5, 9), (1, 13, 16)])
def test_reorder_round_trip_and_gap(n, c, hw):
    x = np.random.default_rng(4).standard_normal((n, c, hw, 1)).astype(np.float32)
    cb = -(-c // 8)
    xb = np.full(n * cb * 8 * hw, np.nan, np.float32)
    K.reorder_f32_nchw8c(True, n, c, hw, x, xb)
    np.testing.assert_array_equal(xb.reshape(n, cb, hw, 1, 8), to_blocked(x))  # padding zeroed
    back = np.full_like(x, np.nan)
    K.reorder_f32_nchw8c(False, n, c, hw, xb, back)
    np.testing.assert_array_equal(back, x)
    gap = np.full(n * c, np.nan, np.float32)
    K.global_avgpool_f32_nchw8c(n, c, hw, xb, gap)
    np.testing.assert_allclose(gap, x.reshape(n * c, hw).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_blocked_kernels_refuse_bad_shapes():
    p = make(1, 16, 4, 4, 16, 3, 3, group=16, s=(3, 3), pads=(1, 1, 1, 1))  # stride 3
    with pytest.raises(ValueError, match="depthwise"):
        K.conv2d_f32_depthwise_nchw8c(p, np.zeros(256, np.float32), np.zeros(144, np.float32), None,
                                      np.zeros(64, np.float32))
    p = make(1, 12, 4, 4, 12, 1, 1)  # 12 channels take 16 floats per pixel when blocked
    with pytest.raises(ValueError, match="x"):
        K.conv2d_f32_pointwise_nchw8c(p, np.zeros(192, np.float32), pack_gemm(np.zeros((12, 12, 1, 1)), True),
                                      None, np.zeros(256, np.float32))
