"""Winograd F(2x2, 3x3) / F(4x4, 3x3) / F(2x2, 5x5) convolution (runtime/kernels/conv/conv_winograd.h)
against the numpy oracle, and the compile-time numpy weight transform against the C++ one."""
import numpy as np
import pytest

import lne._kernels as K
from lne.kernels import winograd as W

from .test_kernels_conv import ACTS, conv_np, make

MTS = (2, 4)
VARIANTS = W.VARIANTS  # (mt, r)


def run_winograd(mt, p, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    g, r = p["group"], p["kh"]
    x = rng.standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    w = rng.standard_normal((p["m"], p["c"] // g, r, r)).astype(np.float32)
    b = rng.standard_normal(p["m"]).astype(np.float32) if bias else None
    want = conv_np(p, x, w, b)
    wt = W.transform_weights(w, mt, g)  # the compile-time transform, as the bundle stores it
    ns = K.winograd_f32_scratch(p, mt)
    assert ns == W.scratch_floats(p["c"], p["m"], p["oh"], p["ow"], mt, g, r)
    scratch = np.full(ns, np.nan, np.float32)
    y = np.full((p["n"], p["m"], p["oh"], p["ow"]), np.nan, np.float32)
    getattr(K, f"conv2d_f32_winograd_f{mt}{r}")(p, x, wt, b, y, scratch)
    # Winograd rounds more than direct summation, 6-point transforms more than 4-point ones:
    # bound relative to the size of the terms summed (sqrt(r*r*c) unit-variance products)
    atol = (2e-5 if mt + r == 5 else 1e-4) * np.sqrt(r * r * p["c"] // g)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=atol)


def pads(t, l, b, r):
    return (t, l, b, r)


CASES = {
    "same_20x8_c13_m17": make(1, 13, 20, 8, 17, 3, 3, pads=pads(1, 1, 1, 1)),
    "valid_odd_9x11": make(1, 5, 9, 11, 6, 3, 3),
    "asym_pads": make(1, 7, 10, 9, 3, 3, 3, pads=pads(0, 2, 1, 0)),
    "big_pads": make(1, 3, 5, 6, 4, 3, 3, pads=pads(3, 2, 4, 3)),
    "1x1_spatial": make(1, 9, 1, 1, 5, 3, 3, pads=pads(1, 1, 1, 1)),
    "3x3_valid_1x1_out": make(1, 4, 3, 3, 2, 3, 3),
    "thin_row": make(1, 3, 1, 37, 5, 3, 3, pads=pads(1, 1, 1, 1)),
    "thin_col": make(1, 3, 29, 2, 5, 3, 3, pads=pads(1, 1, 1, 1)),
    "wide_many_tiles": make(1, 4, 6, 83, 3, 3, 3, pads=pads(1, 1, 1, 1)),
    "batch2_m33": make(2, 6, 7, 13, 33, 3, 3, pads=pads(1, 1, 1, 1)),
    "deep_k_c70": make(1, 70, 6, 6, 10, 3, 3, pads=pads(1, 1, 1, 1)),
    "ceil_like_out_smaller": make(1, 3, 12, 12, 4, 3, 3, pads=pads(1, 1, 0, 0)),
    "group2": make(1, 8, 13, 13, 6, 3, 3, pads=pads(1, 1, 1, 1), group=2),
    "group3_m_not_16": make(2, 9, 7, 10, 21, 3, 3, pads=pads(1, 0, 1, 2), group=3),
}


def as5(p):
    """The same case with a 5x5 kernel (pads grown by one so the output keeps its size)."""
    q = make(p["n"], p["c"], p["h"], p["w"], p["m"], 5, 5, group=p["group"], act=p["act"],
             pads=(p["pt"] + 1, p["pl"] + 1, 1, 1))
    return dict(q, oh=p["oh"], ow=p["ow"])


@pytest.mark.parametrize("mt,r", VARIANTS)
@pytest.mark.parametrize("name", list(CASES))
def test_winograd(name, mt, r):
    p = CASES[name] if r == 3 else as5(CASES[name])
    run_winograd(mt, p, seed=len(name))


@pytest.mark.parametrize("mt,r", VARIANTS)
@pytest.mark.parametrize("act", ACTS, ids=lambda a: f"act{a[0]}")
def test_winograd_acts(act, mt, r):
    run_winograd(mt, make(1, 6, 9, 10, 11, r, r, pads=pads(r // 2, r // 2, r // 2, r // 2), act=act), seed=3)


@pytest.mark.parametrize("mt,r", VARIANTS)
def test_winograd_no_bias(mt, r):
    run_winograd(mt, make(1, 5, 8, 8, 9, r, r, pads=pads(r // 2, r // 2, r // 2, r // 2)), bias=False)


@pytest.mark.parametrize("mt,r", VARIANTS)
@pytest.mark.parametrize("m,c,group", [(1, 1, 1), (16, 3, 1), (17, 9, 1), (40, 33, 1), (34, 5, 2)])
def test_weight_transform_matches_cpp(mt, r, m, c, group):
    w = np.random.default_rng(m * c).standard_normal((m, c, r, r)).astype(np.float32)
    wt = np.full(K.winograd_f32_weights_size(m, c, mt, r, group), np.nan, np.float32)
    K.winograd_f32_transform_weights(mt, r, m, c, w, wt, group)
    got = W.transform_weights(w, mt, group)
    assert got.size == wt.size
    np.testing.assert_allclose(got.ravel(), wt, rtol=1e-6, atol=1e-7)
    # panels past m / group are zero
    a2, mg = (mt + r - 1) ** 2, m // group
    pad = got.reshape(group, a2, -1, c, 16).transpose(0, 1, 2, 4, 3).reshape(group, a2, -1, c)[:, :, mg:]
    assert not pad.any()


def test_weight_transform_is_the_winograd_identity():
    """Independent of the kernels: A^T [(G g G^T) * (B^T d B)] A equals the 3x3 correlation of a
    6x6 patch d with g (F(4x4, 3x3)); and likewise for F(2x2, 3x3)."""
    rng = np.random.default_rng(0)
    BT = {2: np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
          4: np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float)}
    AT = {(2, 3): np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float),
          (4, 3): np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                            [0, 1, -1, 8, -8, 1]], float),
          (2, 5): np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], float)}
    for mt, r in VARIANTS:
        a = mt + r - 1
        g = rng.standard_normal((1, 1, r, r))
        d = rng.standard_normal((a, a))
        u = W.transform_weights(g.astype(np.float32), mt).reshape(a, a, 16, 1)[:, :, 0, 0]
        y = AT[mt, r] @ (u * (BT[a - 2] @ d @ BT[a - 2].T)) @ AT[mt, r].T
        want = np.array([[np.sum(d[i:i + r, j:j + r] * g[0, 0]) for j in range(mt)] for i in range(mt)])
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_winograd_errors():
    p = make(1, 4, 6, 6, 4, 3, 3, pads=pads(1, 1, 1, 1))
    x = np.zeros((1, 4, 6, 6), np.float32)
    y = np.zeros((1, 4, 6, 6), np.float32)
    wt = np.zeros(K.winograd_f32_weights_size(4, 4, 4, 3), np.float32)
    s = np.zeros(K.winograd_f32_scratch(p, 4), np.float32)
    with pytest.raises(ValueError):
        K.conv2d_f32_winograd_f43(p, x, wt[:-1], None, y, s)  # wt too small
    with pytest.raises(ValueError):
        K.conv2d_f32_winograd_f43(p, x, wt, None, y, s[:-1])  # scratch too small
    with pytest.raises(ValueError):
        K.conv2d_f32_winograd_f43(dict(p, sh=2, oh=3, ow=3), x, wt, None, y[:, :, :3, :3], s)
    with pytest.raises(ValueError):
        K.winograd_f32_transform_weights(3, 3, 4, 4, np.zeros(144, np.float32), wt)
    with pytest.raises(ValueError):
        K.winograd_f32_transform_weights(4, 5, 4, 4, np.zeros(400, np.float32), wt)  # no F(4, 5)
    with pytest.raises(ValueError):  # a 3x3 conv given to the 5x5 kernel
        K.conv2d_f32_winograd_f25(p, x, wt, None, y, s)


def test_choice_prefers_winograd_on_large_maps():
    """The cost model picks Winograd for the KWS / ResNet shapes it was calibrated on, and
    im2col for a tiny map with few channels."""
    assert W.choose(100, 100, 20, 8) == 4
    assert W.choose(64, 64, 56, 56) == 4
    assert W.choose(3, 4, 2, 2) is None
    assert W.choose(512, 512, 7, 7) == 2
    assert W.choose(50, 50, 20, 8, r=5) == 2
