"""Pooling runtime kernels (runtime/kernels/pool) against numpy (and onnxruntime)."""
import numpy as np
import pytest

import lne._kernels as K

RTOL, ATOL = 1e-5, 1e-6


def out_size(i, k, s, d, p0, p1, ceil=False):
    num = i + p0 + p1 - d * (k - 1) - 1
    return (-(-num // s) if ceil else num // s) + 1


def make(n, c, h, w, kh, kw, s=(1, 1), d=(1, 1), pads=(0, 0, 0, 0), cip=0, ceil=False):
    pt, pl, pb, pr = pads
    oh = out_size(h, kh, s[0], d[0], pt, pb, ceil)
    ow = out_size(w, kw, s[1], d[1], pl, pr, ceil)
    if ceil:  # ONNX / PyTorch: the last window must start inside the image or left padding
        if (oh - 1) * s[0] >= h + pt:
            oh -= 1
        if (ow - 1) * s[1] >= w + pl:
            ow -= 1
    return dict(n=n, c=c, h=h, w=w, oh=oh, ow=ow, kh=kh, kw=kw, sh=s[0], sw=s[1], dh=d[0],
                dw=d[1], pt=pt, pl=pl, pb=pb, pr=pr, count_include_pad=cip)


def windows(p, arr, fill):
    """[n, c, oh, ow, kh*kw] taps of arr (already [n,c,h,w]) with `fill` outside the image."""
    n, c, h, w = arr.shape
    oh, ow, kh, kw = p["oh"], p["ow"], p["kh"], p["kw"]
    sh, sw, dh, dw, pt, pl = p["sh"], p["sw"], p["dh"], p["dw"], p["pt"], p["pl"]
    H = max(pt + h, (oh - 1) * sh + (kh - 1) * dh + 1)
    W = max(pl + w, (ow - 1) * sw + (kw - 1) * dw + 1)
    big = np.full((n, c, H, W), fill, dtype=np.float64)
    big[:, :, pt:pt + h, pl:pl + w] = arr
    taps = [big[:, :, ky * dh: ky * dh + (oh - 1) * sh + 1: sh, kx * dw: kx * dw + (ow - 1) * sw + 1: sw]
            for ky in range(kh) for kx in range(kw)]
    return np.stack(taps, axis=-1)


def maxpool_np(p, x):
    return windows(p, x, -np.inf).max(axis=-1)


def avgpool_np(p, x):
    s = windows(p, x, 0.0).sum(axis=-1)
    n, c, h, w = x.shape
    if p["count_include_pad"]:
        # taps inside the padded extent [-pt, h+pb) x [-pl, w+pr) count, ceil overhang does not
        ext = np.ones((1, 1, h + p["pt"] + p["pb"], w + p["pl"] + p["pr"]))
        q = dict(p, h=ext.shape[2], w=ext.shape[3], pt=0, pl=0)
        cnt = windows(q, ext, 0.0).sum(axis=-1)
    else:
        cnt = windows(p, np.ones((1, 1, h, w)), 0.0).sum(axis=-1)
    return s / cnt


CASES = {
    "k2s2": make(1, 3, 8, 8, 2, 2, (2, 2)),
    "k3s2_odd_pad1": make(2, 5, 11, 13, 3, 3, (2, 2), pads=(1, 1, 1, 1)),
    "k3s2_asym": make(1, 3, 9, 10, 3, 3, (2, 2), pads=(0, 1, 1, 0)),
    "k3s1_same": make(1, 13, 7, 6, 3, 3, (1, 1), pads=(1, 1, 1, 1)),
    "k3s2_ceil": make(1, 3, 10, 10, 3, 3, (2, 2), ceil=True),
    "k3s2_ceil_pad": make(1, 3, 10, 11, 3, 3, (2, 2), pads=(1, 1, 1, 1), ceil=True),
    "k2s2_ceil_odd": make(1, 4, 7, 9, 2, 2, (2, 2), ceil=True),
    "k5s3_pad2": make(1, 2, 14, 12, 5, 5, (3, 3), pads=(2, 2, 2, 2)),
    "k1": make(1, 3, 4, 5, 1, 1),
    "global_like": make(1, 5, 7, 7, 7, 7),
    "1x1_spatial": make(1, 3, 1, 1, 1, 1),
    "k3_on_1x1_pad": make(1, 3, 1, 1, 3, 3, pads=(1, 1, 1, 1)),
    "k2x3_s1x2": make(1, 3, 6, 9, 2, 3, (1, 2), pads=(1, 0, 0, 1)),
    # shapes of the vectorised paths: 2x2 / 3x3, stride 1 / 2, rows wider than a vector,
    # tall planes split into several bands, ceil-mode overhang, rows narrower than a vector
    "k3s2_wide_ceil": make(1, 2, 23, 45, 3, 3, (2, 2), ceil=True),
    "k3s1_pad_wide": make(2, 3, 9, 37, 3, 3, (1, 1), pads=(1, 1, 1, 1)),
    "k2s1": make(1, 3, 8, 19, 2, 2, (1, 1)),
    "k2s2_pad": make(1, 3, 9, 17, 2, 2, (2, 2), pads=(1, 1, 0, 0)),
    "k3s1_tall_bands": make(1, 2, 300, 200, 3, 3, (1, 1), pads=(1, 1, 1, 1)),
    "k3s2_tall_bands_odd": make(1, 1, 301, 203, 3, 3, (2, 2), pads=(1, 0, 1, 1), ceil=True),
    "k3s1_7x7": make(1, 9, 7, 7, 3, 3, (1, 1), pads=(1, 1, 1, 1)),
    "k3s2_asym_big_pads": make(1, 3, 6, 7, 3, 3, (2, 2), pads=(2, 2, 2, 2)),
}

FAST = {"maxpool": [K.maxpool2d_f32_ref, K.maxpool2d_f32_fast],
        "avgpool": [K.avgpool2d_f32_ref, K.avgpool2d_f32_fast]}


@pytest.mark.parametrize("name", list(CASES))
def test_maxpool(name):
    p = CASES[name]
    x = np.random.default_rng(len(name)).standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    for fn in FAST["maxpool"]:
        y = np.full((p["n"], p["c"], p["oh"], p["ow"]), np.nan, np.float32)
        fn(p, x, y)
        np.testing.assert_array_equal(y, maxpool_np(p, x).astype(np.float32))


@pytest.mark.parametrize("d", [(2, 2), (1, 3)])
def test_maxpool_dilation(d):
    p = make(1, 3, 12, 13, 3, 3, (2, 1), d, pads=(2, 1, 1, 2))
    x = np.random.default_rng(1).standard_normal((1, 3, 12, 13)).astype(np.float32)
    for fn in FAST["maxpool"]:  # the fast kernel falls back to the reference for dilation
        y = np.zeros((1, 3, p["oh"], p["ow"]), np.float32)
        fn(p, x, y)
        np.testing.assert_array_equal(y, maxpool_np(p, x).astype(np.float32))


@pytest.mark.parametrize("cip", [0, 1])
@pytest.mark.parametrize("name", list(CASES))
def test_avgpool(name, cip):
    p = dict(CASES[name], count_include_pad=cip)
    x = np.random.default_rng(len(name)).standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    for fn in FAST["avgpool"]:
        y = np.full((p["n"], p["c"], p["oh"], p["ow"]), np.nan, np.float32)
        fn(p, x, y)
        np.testing.assert_allclose(y, avgpool_np(p, x), rtol=RTOL, atol=ATOL)


def test_avgpool_count_include_pad_divisors():
    """Hand-checked divisors: 3x3 s2 pad 1 on 4x4 with ceil overhang past the padding."""
    p = dict(n=1, c=1, h=4, w=4, oh=3, ow=3, kh=3, kw=3, sh=2, sw=2, dh=1, dw=1, pt=1, pl=1, pb=0,
             pr=0, count_include_pad=1)
    x = np.ones((1, 1, 4, 4), np.float32)
    y = np.zeros((1, 1, 3, 3), np.float32)
    K.avgpool2d_f32_ref(p, x, y)
    y_fast = np.zeros((1, 1, 3, 3), np.float32)
    K.avgpool2d_f32_fast(p, x, y_fast)
    np.testing.assert_allclose(y_fast, y, rtol=1e-6)
    # window rows: [-1,1] (3 in extent [-1,4)), [1,3] (3), [3,5] (1: only row 3 is in the extent)
    cnt_in = np.array([2, 3, 1])  # taps inside the image per axis
    cnt_ext = np.array([3, 3, 1])
    np.testing.assert_allclose(y[0, 0], np.outer(cnt_in, cnt_in) / np.outer(cnt_ext, cnt_ext), rtol=1e-6)
    K.avgpool2d_f32_ref(dict(p, count_include_pad=0), x, y)
    np.testing.assert_allclose(y, 1.0, rtol=1e-6)


def _ort_pool(op, x, **attrs):
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    node = helper.make_node(op, ["x"], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("name", ["k3s2_odd_pad1", "k3s2_asym", "k5s3_pad2", "k3s2_ceil", "k2x3_s1x2"])
@pytest.mark.parametrize("cip", [0, 1])
def test_pools_vs_onnxruntime(name, cip):
    p = dict(CASES[name], count_include_pad=cip)
    x = np.random.default_rng(3).standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    attrs = dict(kernel_shape=[p["kh"], p["kw"]], strides=[p["sh"], p["sw"]],
                 pads=[p["pt"], p["pl"], p["pb"], p["pr"]], ceil_mode=int("ceil" in name))
    want = _ort_pool("AveragePool", x, count_include_pad=cip, **attrs)
    assert want.shape == (p["n"], p["c"], p["oh"], p["ow"])
    y = np.zeros(want.shape, np.float32)
    for fn in FAST["avgpool"]:
        fn(p, x, y)
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    if cip == 0:
        want = _ort_pool("MaxPool", x, **attrs)
        for fn in FAST["maxpool"]:
            fn(p, x, y)
            np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("nc,hw", [(1, 1), (3, 49), (13, 1), (5, 7 * 7 + 3), (2, 3136)])
def test_global_pools(nc, hw):
    x = np.random.default_rng(nc * hw).standard_normal((nc, hw)).astype(np.float32)
    for fn in (K.global_avgpool_f32_ref, K.global_avgpool_f32_fast):
        y = np.full(nc, np.nan, np.float32)
        fn(nc, hw, x, y)
        np.testing.assert_allclose(y, x.astype(np.float64).mean(axis=1), rtol=1e-5, atol=1e-6)
    K.global_maxpool_f32_ref(nc, hw, x, y)
    np.testing.assert_array_equal(y, x.max(axis=1))


@pytest.mark.parametrize("cip", [0, 1])
def test_avgpool_whole_plane_is_global_mean(cip):
    p = make(2, 5, 7, 6, 7, 6)
    p["count_include_pad"] = cip
    x = np.random.default_rng(5).standard_normal((2, 5, 7, 6)).astype(np.float32)
    y = np.full((2, 5, 1, 1), np.nan, np.float32)
    K.avgpool2d_f32_fast(p, x, y)
    np.testing.assert_allclose(y.ravel(), x.reshape(10, -1).astype(np.float64).mean(axis=1), rtol=1e-5)


def test_pool_errors():
    p = make(1, 3, 8, 8, 2, 2, (2, 2))
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError):
        K.maxpool2d_f32_ref(p, x, np.zeros((1, 3, 3, 4), np.float32))
    with pytest.raises(ValueError):
        K.avgpool2d_f32_ref(dict(p, sh=0), x, np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError):
        K.global_avgpool_f32_ref(3, 64, x, np.zeros(2, np.float32))
    with pytest.raises(ValueError):
        K.maxpool2d_f32_fast(p, x, np.zeros((1, 3, 3, 4), np.float32))
    with pytest.raises(ValueError):
        K.global_avgpool_f32_fast(3, 64, x, np.zeros(2, np.float32))
