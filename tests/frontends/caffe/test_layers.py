"""Caffe layers against independent oracles: small PyTorch modules written as Caffe nets
(torch2caffe) against PyTorch itself, and hand-written prototxts against numpy formulas of
Caffe's semantics (ceil pooling by hand, BatchNorm's scale factor, LRN in both regions...)."""
from __future__ import annotations

import numpy as np
import pytest

from lne.convert import convert

from ...conftest import ort_run

torch = pytest.importorskip("torch")
nn = torch.nn

from .caffemodel import write_blobs  # noqa: E402
from .torch2caffe import embed_weights, to_net, to_prototxt, write_caffemodel  # noqa: E402


class Mixed(nn.Module):
    """Rectangular/strided/padded, grouped, dilated and depthwise convs, BN + Scale, PReLU,
    LeakyReLU, Sigmoid, TanH, Eltwise SUM/PROD/MAX, Concat, ceil-mode MAX and AVE pooling (on
    sizes where ceil and floor differ), InnerProduct on the last axis, Softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2))
        self.bn1 = nn.BatchNorm2d(6)
        self.a1 = nn.PReLU(6)
        self.c2 = nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=3, bias=False)
        self.a2 = nn.LeakyReLU(0.2)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.a3 = nn.Sigmoid()
        self.p1 = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.p2 = nn.AvgPool2d(3, 2, 1, ceil_mode=True)
        self.a4 = nn.Tanh()
        self.fc = nn.Linear(3, 5)
        self.sm = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.a1(self.bn1(self.c1(x)))
        y, z = self.a2(self.c2(x)), self.a3(self.dw(x))
        x = torch.cat([y + z, y * z, torch.maximum(y, z)], 1)
        return self.sm(self.fc(self.a4(self.p2(self.p1(x)))))


class Separable(nn.Module):
    """A DS-CNN block with a forks' depthwise layer type, ReLU6, global MAX pooling, Flatten,
    Dropout, InnerProduct."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, (4, 3), stride=(1, 2), padding=(1, 1), bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 11, 1, bias=False), nn.BatchNorm2d(11), nn.ReLU())
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.flatten = nn.Flatten(1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(11, 4)

    def forward(self, x):
        return self.fc(self.drop(self.flatten(self.pool(self.features(x)))))


def _randomize(m, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
    return m.eval()


def test_mixed_layers_match_pytorch(tmp_path, compile_run):
    m = _randomize(Mixed(), 1)
    shape = (1, 3, 11, 9)
    net = to_net(m, shape, "mixed", input_form="input_dim")
    text = to_prototxt(net)
    assert "kernel_h: 3" in text and "pad_w: 2" in text and "dilation: 2" in text and "operation: MAX" in text
    proto = tmp_path / "mixed.prototxt"
    proto.write_text(text)
    weights = write_caffemodel(m, net, tmp_path / "mixed.caffemodel", bn_scale_factor=3.5)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = m(torch.from_numpy(x)).numpy()
    (got,), sess = compile_run(proto, {"data": x}, weights=weights)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    pools = [n for n in sess.manifest["nodes"] if n["op"] in ("MaxPool", "AveragePool")]
    assert [p["shape"][2:] for p in pools] == [[4, 5], [3, 3]]  # ceil sizes; floor would give 3x5, 2x3
    (again,) = ort_run(convert(proto, tmp_path / "mixed.onnx", weights=weights), {"data": x})
    np.testing.assert_allclose(again, expected, rtol=1e-4, atol=1e-5)


def test_weights_inside_the_prototxt(tmp_path, compile_run):
    m = _randomize(Separable(), 2)
    shape = (1, 1, 12, 10)
    net = embed_weights(m, to_net(m, shape, "sep", input_form="input_shape", depthwise_type="ConvolutionDepthwise"))
    proto = tmp_path / "sep.prototxt"
    proto.write_text(to_prototxt(net))
    assert 'type: "ConvolutionDepthwise"' in proto.read_text() and "blobs {" in proto.read_text()
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = m(torch.from_numpy(x)).numpy()
    (got,), _ = compile_run(proto, {"data": x})  # no --weights: the blobs are in the prototxt
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


POOL_NET = """
name: "pool"
input: "data"
input_shape { dim: 1 dim: 1 dim: 5 dim: 5 }
input: "small"
input_shape { dim: 1 dim: 1 dim: 4 dim: 4 }
layer { name: "max" type: "Pooling" bottom: "data" top: "max"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ave" type: "Pooling" bottom: "small" top: "ave"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "floor" type: "Pooling" bottom: "data" top: "floor"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR } }
"""


def test_caffe_ceil_pooling_hand_computed(tmp_path, compile_run):
    proto = tmp_path / "pool.prototxt"
    proto.write_text(POOL_NET)
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    s = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    (ave, floor, mx), sess = compile_run(proto, {"data": x, "small": s})
    assert [o.name for o in sess.get_outputs()] == ["ave", "floor", "max"]  # Caffe's order: by name
    # MAX 2x2/2 on 5x5: ceil((5-2)/2)+1 = 3 windows per axis; the last one holds row/column 4 only.
    np.testing.assert_array_equal(mx[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    np.testing.assert_array_equal(floor[0, 0], [[6, 8], [16, 18]])
    # AVE 3x3/2 pad 1 on 4x4 (values 0..15): 3 windows per axis starting at -1, 1, 3. Each sum is
    # divided by the window clipped to the padded extent [-1, 5): rows (and columns) 3, 3, 2 -> 9, 9, 6
    # (the last window: real row 3 plus one padding row; its third row, 5, is ceil overhang).
    expected = np.array([[(0 + 1 + 4 + 5) / 9, (1 + 2 + 3 + 5 + 6 + 7) / 9, (3 + 7) / 6],
                         [(4 + 5 + 8 + 9 + 12 + 13) / 9, (5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15) / 9,
                          (7 + 11 + 15) / 6],
                         [(12 + 13) / 6, (13 + 14 + 15) / 6, 15 / 4]], np.float32)
    np.testing.assert_allclose(ave[0, 0], expected, rtol=1e-6)


KITCHEN = """
name: "kitchen"
layer { name: "in" type: "Input" top: "x" top: "s" input_param { shape { dim: 2 dim: 6 dim: 3 dim: 4 } shape { dim: 3 dim: 3 } } }
layer { name: "bn" type: "BatchNorm" bottom: "x" top: "bn" batch_norm_param { eps: 0.25 } }
layer { name: "bn0" type: "BatchNorm" bottom: "x" top: "bn0" batch_norm_param { eps: 0.25 } }
layer { name: "across" type: "LRN" bottom: "x" top: "across" lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 k: 2 } }
layer { name: "within" type: "LRN" bottom: "x" top: "within"
        lrn_param { local_size: 3 alpha: 0.3 beta: 0.6 norm_region: WITHIN_CHANNEL } }
layer { name: "split" type: "Split" bottom: "x" top: "x1" top: "x2" }
layer { name: "sum" type: "Eltwise" bottom: "x1" bottom: "x2" bottom: "bn" top: "sum" eltwise_param { coeff: 1 coeff: -1 coeff: 0.5 } }
layer { name: "slice" type: "Slice" bottom: "sum" top: "a" top: "b" top: "c" slice_param { axis: 1 slice_point: 1 slice_point: 4 } }
layer { name: "mul" type: "Scale" bottom: "b" bottom: "s" top: "scaled" scale_param { axis: 1 } }
layer { name: "perm" type: "Permute" bottom: "scaled" top: "perm" permute_param { order: 0 order: 3 } }
layer { name: "reshape" type: "Reshape" bottom: "perm" top: "reshape" reshape_param { shape { dim: 0 dim: -1 dim: 3 } } }
layer { name: "fc" type: "InnerProduct" bottom: "reshape" top: "fc"
        inner_product_param { num_output: 2 axis: 2 transpose: true } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "c" top: "cat" concat_param { axis: 1 } }
layer { name: "bias" type: "Bias" bottom: "cat" top: "cat" bias_param { axis: 1 num_axes: 2 } }
layer { name: "flat" type: "Flatten" bottom: "cat" top: "flat" flatten_param { axis: 1 end_axis: 2 } }
layer { name: "soft" type: "Softmax" bottom: "flat" top: "soft" softmax_param { axis: 2 } }
layer { name: "drop" type: "Dropout" bottom: "soft" top: "soft" dropout_param { dropout_ratio: 0.25 scale_train: false } }
layer { name: "fc4" type: "InnerProduct" bottom: "x" top: "fc4" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "soft" bottom: "fc" top: "loss" include { phase: TRAIN } }
"""


def _lrn_across(x, n, alpha, beta, k):
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (n // 2, n // 2), (0, 0), (0, 0)))
    window = sum(sq[:, i:i + x.shape[1]] for i in range(n))
    return x * (k + alpha / n * window) ** -beta


def _lrn_within(x, n, alpha, beta):
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (0, 0), (n // 2, n // 2), (n // 2, n // 2)))
    h, w = x.shape[2:]
    window = sum(sq[:, :, i:i + h, j:j + w] for i in range(n) for j in range(n))
    return x * (1 + alpha / n ** 2 * window) ** -beta


def test_data_flow_layers_against_numpy(tmp_path, compile_run):
    rng = np.random.default_rng(4)
    mean, var = rng.standard_normal(6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)
    w_fc = rng.standard_normal((3, 2)).astype(np.float32)  # transpose: true stores [K, N]
    b_fc = rng.standard_normal(2).astype(np.float32)
    bias = rng.standard_normal((3, 3)).astype(np.float32)
    w_fc4, b_fc4 = rng.standard_normal((3, 72)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    blobs = {"fc4": [w_fc4.reshape(1, 1, 3, 72), b_fc4.reshape(1, 1, 1, 3)],  # legacy 4-D blob shapes
             "bn": [mean * 4, var * 4, np.array([4.0], np.float32)],
             "bn0": [mean, var, np.array([0.0], np.float32)], "fc": [w_fc, b_fc], "bias": [bias]}
    weights = write_blobs(tmp_path / "k.caffemodel", blobs)
    proto = tmp_path / "k.prototxt"
    proto.write_text(KITCHEN)
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    s = rng.standard_normal((3, 3)).astype(np.float32)
    outs, sess = compile_run(proto, {"x": x, "s": s}, weights=weights)
    got = dict(zip([o.name for o in sess.get_outputs()], outs))
    assert sorted(got) == ["across", "bn0", "fc", "fc4", "soft", "within"]

    c = (1, 6, 1, 1)
    bn = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + 0.25)  # stored 4 * mean, 4 * var, factor 4
    summed = x - x + 0.5 * bn
    a, b, cc = summed[:, :1], summed[:, 1:4], summed[:, 4:]
    scaled = b * s[None, :, :, None]  # s covers axes 1 and 2 of b
    reshaped = scaled.transpose(0, 3, 1, 2).reshape(2, -1, 3)
    cat = np.concatenate([a, cc], axis=1) + bias[None, :, :, None]
    flat = cat.reshape(2, 9, 4)
    e = np.exp(flat - flat.max(axis=2, keepdims=True))
    expected = {
        "bn0": x / np.sqrt(0.25),  # a zero scale factor zeroes the stored mean and variance
        "across": _lrn_across(x, 3, 0.3, 0.6, 2.0),
        "within": _lrn_within(x, 3, 0.3, 0.6),
        "fc": reshaped @ w_fc + b_fc,
        "fc4": x.reshape(2, -1) @ w_fc4.T + b_fc4,  # axis 1 flattens C, H, W
        "soft": e / e.sum(axis=2, keepdims=True) * 0.75,  # Dropout without scale_train keeps 1 - ratio
    }
    for name, want in expected.items():
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-5, err_msg=name)
