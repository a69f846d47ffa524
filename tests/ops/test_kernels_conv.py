"""2-D convolution runtime kernels (runtime/kernels/conv) against a numpy oracle."""
import numpy as np
import pytest

import lne._kernels as K

from .act_oracle import act_np
from lne.kernels.conv import im2col_block_rows

RTOL, ATOL = 1e-4, 1e-5

ACTS = [
    (K.ACT_NONE, 0.0, 0.0),
    (K.ACT_RELU, 0.0, 0.0),
    (K.ACT_CLIP, -0.5, 0.7),
    (K.ACT_LEAKY_RELU, 0.1, 0.0),
    (K.ACT_SIGMOID, 0.0, 0.0),
    (K.ACT_TANH, 0.0, 0.0),
    (K.ACT_HARD_SIGMOID, 0.2, 0.5),
    (K.ACT_HARD_SWISH, 0.0, 0.0),
]




def out_size(i, k, s, d, p0, p1):
    return (i + p0 + p1 - d * (k - 1) - 1) // s + 1


def make(n, c, h, w, m, kh, kw, s=(1, 1), d=(1, 1), pads=(0, 0, 0, 0), group=1, act=None,
         out=None):
    """pads = (top, left, bottom, right); out overrides (oh, ow) (e.g. ceil-mode overhang)."""
    pt, pl, pb, pr = pads
    oh = out_size(h, kh, s[0], d[0], pt, pb)
    ow = out_size(w, kw, s[1], d[1], pl, pr)
    if out is not None:
        oh, ow = out
    return dict(n=n, c=c, h=h, w=w, m=m, oh=oh, ow=ow, kh=kh, kw=kw, sh=s[0], sw=s[1], dh=d[0],
                dw=d[1], pt=pt, pl=pl, group=group, act=act or (K.ACT_NONE, 0.0, 0.0))


def conv_np(p, x, w, b):
    """Independent oracle: explicit zero padding to the full window extent + einsum per tap."""
    n, c, h, wd = p["n"], p["c"], p["h"], p["w"]
    g, m, oh, ow = p["group"], p["m"], p["oh"], p["ow"]
    kh, kw, sh, sw, dh, dw = p["kh"], p["kw"], p["sh"], p["sw"], p["dh"], p["dw"]
    pt, pl = p["pt"], p["pl"]
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    xp = np.zeros((n, c, max(need_h, pt + h), max(need_w, pl + wd)))
    xp[:, :, pt:pt + h, pl:pl + wd] = x.reshape(n, c, h, wd)
    cg, mg = c // g, m // g
    W = w.reshape(g, mg, cg, kh, kw).astype(np.float64)
    y = np.zeros((n, g, mg, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky * dh: ky * dh + (oh - 1) * sh + 1: sh,
                       kx * dw: kx * dw + (ow - 1) * sw + 1: sw]
            y += np.einsum("ngchw,gmc->ngmhw", patch.reshape(n, g, cg, oh, ow), W[..., ky, kx])
    y = y.reshape(n, m, oh, ow)
    if b is not None:
        y += b.reshape(1, m, 1, 1)
    return act_np(p["act"], y)


def run_all(p, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    cg = p["c"] // p["group"]
    x = rng.standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    w = rng.standard_normal((p["m"], cg, p["kh"], p["kw"])).astype(np.float32)
    b = rng.standard_normal(p["m"]).astype(np.float32) if bias else None
    want = conv_np(p, x, w, b)
    atol = ATOL * np.sqrt(cg * p["kh"] * p["kw"])
    shape = (p["n"], p["m"], p["oh"], p["ow"])

    y = np.full(shape, np.nan, np.float32)
    K.conv2d_f32_ref(p, x, w, b, y)
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=atol)

    ns = K.conv2d_f32_im2col_scratch(p)
    pointwise = (p["kh"] == p["kw"] == 1 and p["sh"] == p["sw"] == 1 and p["pt"] == p["pl"] == 0
                 and p["oh"] == p["h"] and p["ow"] == p["w"])
    rows = im2col_block_rows(p["c"], p["m"], p["oh"], p["ow"], p["group"], pointwise)
    assert ns == (0 if pointwise else cg * p["kh"] * p["kw"] * rows * p["ow"])
    scratch = np.full(max(ns, 1), np.nan, np.float32) if ns else None
    y = np.full(shape, np.nan, np.float32)
    K.conv2d_f32_im2col(p, x, w, b, y, scratch)
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=atol)

    if p["group"] == p["c"] == p["m"]:
        y = np.full(shape, np.nan, np.float32)
        K.conv2d_f32_depthwise(p, x, w, b, y)
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=atol)


CASES = {
    "pointwise_c13_m5": make(1, 13, 7, 9, 5, 1, 1),
    "pointwise_1x1_spatial": make(2, 3, 1, 1, 5, 1, 1),
    "k3_on_1x1_spatial": make(1, 5, 1, 1, 3, 3, 3, pads=(1, 1, 1, 1)),
    "k1_stride2_odd": make(1, 3, 7, 9, 5, 1, 1, s=(2, 2)),
    "k1_padded": make(1, 3, 4, 5, 2, 1, 1, pads=(1, 0, 0, 2)),
    "k3_s1_p1": make(2, 8, 10, 12, 16, 3, 3, pads=(1, 1, 1, 1)),
    "k3_s2_odd_asym": make(1, 3, 11, 13, 5, 3, 3, s=(2, 2), pads=(1, 0, 2, 1)),
    "k3_s2_ceil_overhang": make(1, 3, 10, 10, 4, 3, 3, s=(2, 2), pads=(0, 0, 0, 0), out=(5, 5)),
    "k3_dil2": make(1, 5, 12, 11, 6, 3, 3, d=(2, 2), pads=(2, 2, 2, 2)),
    "k3x5_dil_mixed": make(1, 4, 13, 17, 3, 3, 5, s=(1, 2), d=(2, 1), pads=(1, 2, 0, 3)),
    "k7_s2_p3": make(1, 3, 23, 21, 8, 7, 7, s=(2, 2), pads=(3, 3, 3, 3)),
    "k5_no_pad_small": make(1, 2, 5, 6, 3, 5, 5),
    "k2_s3": make(1, 5, 13, 13, 7, 2, 2, s=(3, 3)),
    "group2": make(1, 6, 9, 8, 10, 3, 3, pads=(1, 1, 1, 1), group=2),
    "group3_m3": make(2, 9, 7, 7, 3, 3, 3, s=(2, 2), pads=(1, 1, 1, 1), group=3),
    "group4_pointwise": make(1, 8, 5, 5, 12, 1, 1, group=4),
    "many_out_channels": make(1, 3, 6, 6, 37, 3, 3, pads=(1, 1, 1, 1)),
    "wide_k_blocks": make(1, 40, 6, 6, 7, 3, 3, pads=(1, 1, 1, 1)),  # K = 360 > one K block
    "big_spatial_n": make(1, 4, 40, 45, 6, 3, 3, pads=(1, 1, 1, 1)),
    # vectorised strided im2col gathers (stride 2 / 4, rows long enough for whole vectors)
    "k3_s2_long_rows": make(1, 3, 9, 71, 5, 3, 3, s=(2, 2), pads=(1, 1, 1, 1)),
    "k11_s4_alexnet_like": make(1, 3, 47, 53, 4, 11, 11, s=(4, 4), pads=(0, 2, 0, 1)),
    "k1_s2_long_rows": make(1, 6, 5, 67, 7, 1, 1, s=(2, 2)),
    # several blocks of output rows (the GEMM + epilogue run per block), last block partial
    "row_blocks_3x3": make(1, 2, 150, 40, 300, 3, 3, pads=(1, 1, 1, 1)),
    "row_blocks_pointwise_small_k": make(1, 5, 121, 31, 200, 1, 1),
    "row_blocks_grouped": make(2, 4, 70, 33, 130, 3, 3, s=(1, 1), pads=(1, 1, 1, 1), group=2),
}

DW_CASES = {
    "dw3_s1_p1": make(2, 5, 9, 10, 5, 3, 3, pads=(1, 1, 1, 1), group=5),
    "dw3_s2_odd_asym": make(1, 13, 11, 13, 13, 3, 3, s=(2, 2), pads=(1, 0, 1, 1), group=13),
    "dw3_s2_p1_even": make(1, 3, 56, 56, 3, 3, 3, s=(2, 2), pads=(1, 1, 1, 1), group=3),
    "dw3_dil2": make(1, 5, 12, 12, 5, 3, 3, d=(2, 2), pads=(2, 2, 2, 2), group=5),
    "dw3_s1_nopad": make(1, 3, 8, 9, 3, 3, 3, group=3),
    "dw5_s1_p2": make(1, 5, 14, 15, 5, 5, 5, pads=(2, 2, 2, 2), group=5),
    "dw5_s2_asym": make(1, 5, 15, 14, 5, 5, 5, s=(2, 2), pads=(2, 1, 2, 2), group=5),
    "dw5_dil2_small": make(1, 3, 6, 7, 3, 5, 5, d=(2, 2), pads=(4, 4, 4, 4), group=3),
    "dw5_on_2x2": make(1, 3, 2, 2, 3, 5, 5, pads=(2, 2, 2, 2), group=3),
    "dw3_on_1x1": make(1, 4, 1, 1, 4, 3, 3, pads=(1, 1, 1, 1), group=4),
    "dw1x1": make(1, 5, 4, 6, 5, 1, 1, group=5),
    "dw7_generic": make(1, 3, 12, 11, 3, 7, 7, pads=(3, 3, 3, 3), group=3),
    "dw3x1": make(1, 3, 9, 8, 3, 3, 1, pads=(1, 0, 1, 0), group=3),
    "dw3_s3": make(1, 3, 13, 14, 3, 3, 3, s=(3, 3), pads=(1, 1, 1, 1), group=3),
    "dw3_s1x2": make(1, 3, 9, 12, 3, 3, 3, s=(1, 2), pads=(1, 1, 1, 1), group=3),
    "dw3_ceil_overhang": make(1, 3, 8, 8, 3, 3, 3, s=(2, 2), pads=(1, 1, 0, 0), out=(5, 5), group=3),
    "dw3_wide_row": make(1, 2, 5, 70, 2, 3, 3, pads=(1, 1, 1, 1), group=2),
    "dw3_too_wide_for_stage": make(1, 2, 3, 1700, 2, 3, 3, pads=(1, 1, 1, 1), group=2),
    "dw3_s2_dil3": make(1, 3, 15, 16, 3, 3, 3, s=(2, 2), d=(3, 3), pads=(3, 3, 3, 3), group=3),
    "dw3_pad_wider_than_kernel": make(1, 3, 4, 5, 3, 3, 3, pads=(4, 4, 4, 4), group=3),
    "dw5_s2_odd_w": make(2, 4, 9, 17, 4, 5, 5, s=(2, 2), pads=(2, 2, 2, 2), group=4),
    "dw3_s2_ow_multiple_of_8": make(1, 2, 32, 32, 2, 3, 3, s=(2, 2), pads=(1, 1, 1, 1), group=2),
    # band-of-planes path: KWS / MobileNet shapes, several bands, odd left pads, narrow rows
    "dw3_s1_kws_20x8": make(1, 12, 20, 8, 12, 3, 3, pads=(1, 1, 1, 1), group=12),
    "dw3_s2_kws_39x16": make(1, 9, 39, 16, 9, 3, 3, s=(2, 2), pads=(1, 1, 1, 1), group=9),
    "dw5_s1_kws_20x8": make(2, 7, 20, 8, 7, 5, 5, pads=(2, 2, 2, 2), group=7),
    "dw3_s1_tall_bands": make(1, 2, 150, 300, 2, 3, 3, pads=(1, 1, 1, 1), group=2),
    "dw5_s2_tall_bands": make(1, 2, 301, 203, 2, 5, 5, s=(2, 2), pads=(2, 1, 2, 2), group=2),
    "dw3_s2_odd_left_pad": make(1, 3, 14, 15, 3, 3, 3, s=(2, 2), pads=(1, 3, 1, 1), group=3),
    "dw3_s1_7x7": make(2, 5, 7, 7, 5, 3, 3, pads=(1, 1, 1, 1), group=5),
    "dw3_s2_14_to_7": make(1, 6, 14, 14, 6, 3, 3, s=(2, 2), pads=(1, 1, 1, 1), group=6),
    "dw3_s1_w1": make(1, 3, 9, 1, 3, 3, 3, pads=(1, 1, 1, 1), group=3),
    "dw5_s1_w2_big_pads": make(1, 3, 4, 2, 3, 5, 5, pads=(3, 4, 3, 4), group=3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_conv(name):
    run_all(CASES[name], seed=len(name))


@pytest.mark.parametrize("name", list(DW_CASES))
def test_conv_depthwise(name):
    run_all(DW_CASES[name], seed=len(name))


def test_conv_no_bias():
    run_all(make(1, 5, 7, 7, 4, 3, 3, pads=(1, 1, 1, 1)), bias=False)
    run_all(make(1, 5, 7, 7, 5, 3, 3, pads=(1, 1, 1, 1), group=5), bias=False)


@pytest.mark.parametrize("act", ACTS, ids=lambda a: f"act{a[0]}")
def test_conv_acts(act):
    run_all(make(1, 3, 6, 7, 5, 3, 3, s=(2, 1), pads=(1, 1, 1, 1), act=act), seed=1)
    run_all(make(1, 6, 6, 7, 6, 3, 3, pads=(1, 1, 1, 1), group=6, act=act), seed=2)
    run_all(make(1, 6, 5, 5, 4, 1, 1, act=act), seed=3)


def test_conv_random_shapes():
    rng = np.random.default_rng(123)
    for i in range(25):
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
        pads = tuple(int(v) for v in rng.integers(0, 3, size=4))
        h, w = (int(v) for v in rng.integers(1, 14, size=2))
        if out_size(h, kh, sh, dh, pads[0], pads[2]) < 1 or out_size(w, kw, sw, dw, pads[1], pads[3]) < 1:
            continue
        group = int(rng.choice([1, 2, 3]))
        c = group * int(rng.integers(1, 4))
        m = group * int(rng.integers(1, 5))
        if rng.random() < 0.3:
            c = m = group = int(rng.integers(1, 7))
        act = ACTS[i % len(ACTS)]
        run_all(make(int(rng.integers(1, 3)), c, h, w, m, kh, kw, (sh, sw), (dh, dw), pads, group, act),
                seed=i)


def test_conv_onnxruntime_crosscheck():
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    p = make(1, 4, 9, 10, 6, 3, 3, s=(2, 2), d=(1, 2), pads=(1, 2, 0, 1), group=2)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 4, 9, 10)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2, 2], dilations=[1, 2],
                            pads=[1, 2, 0, 1], group=2)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, w.shape),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, b.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"x": x, "w": w, "b": b})[0]
    assert want.shape == (1, 6, p["oh"], p["ow"])
    for fn in (K.conv2d_f32_ref, lambda *a: K.conv2d_f32_im2col(*a, np.zeros(K.conv2d_f32_im2col_scratch(p), np.float32))):
        y = np.zeros(want.shape, np.float32)
        fn(p, x, w, b, y)
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=1e-4)


def test_conv_errors():
    p = make(1, 4, 5, 5, 4, 3, 3, pads=(1, 1, 1, 1), group=2)
    x = np.zeros((1, 4, 5, 5), np.float32)
    w = np.zeros((4, 2, 3, 3), np.float32)
    y = np.zeros((1, 4, 5, 5), np.float32)
    with pytest.raises(ValueError):
        K.conv2d_f32_ref(p, x, np.zeros((4, 4, 3, 3), np.float32), None, y)
    with pytest.raises(ValueError):
        K.conv2d_f32_ref(p, x, w, np.zeros(3, np.float32), y)
    with pytest.raises(ValueError):
        K.conv2d_f32_im2col(p, x, w, None, y, np.zeros(10, np.float32))  # scratch too small
    with pytest.raises(ValueError):
        K.conv2d_f32_im2col(p, x, w, None, y, None)
    with pytest.raises(ValueError):
        K.conv2d_f32_depthwise(p, x, w, None, y)  # group != c
    with pytest.raises(ValueError):
        K.conv2d_f32_ref(dict(p, group=3), x, w, None, y)
    with pytest.raises(ValueError):
        K.conv2d_f32_ref({k: v for k, v in p.items() if k != "kh"}, x, w, None, y)
    with pytest.raises(ValueError):
        K.conv2d_f32_ref(p, x, w, None, x)  # y aliases x
