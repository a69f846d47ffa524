"""Calibration methods against numpy oracles: minmax exact, percentile = np.percentile, KL threshold."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from lne.quant.calibrate import ABS_BINS, BINS, Stats, collect, data_range, entropy_threshold, hist_percentile

from .nets import calib_batch, tiny


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.lognormal(0, 1, 50_000) - 2.0, rng.normal(-3, 0.5, 20_000)])


def test_minmax_is_exact():
    x = _data()
    s = Stats.of(x)
    assert (s.lo, s.hi) == (x.min(), x.max())
    assert data_range(s, "minmax", False, 8) == (x.min(), x.max())
    amax = np.abs(x).max()
    assert data_range(s, "minmax", True, 16) == (-amax, amax)


@pytest.mark.parametrize("q", [0.01, 1.0, 25.0, 50.0, 99.0, 99.9, 99.99])
def test_percentile_matches_numpy(q):
    x = _data(1)
    s = Stats.of(x)
    width = (s.hi - s.lo) / BINS
    assert abs(hist_percentile(s.hist, s.lo, s.hi, q) - np.percentile(x, q)) <= width
    awidth = s.amax / ABS_BINS
    assert abs(hist_percentile(s.abs_hist_with_zeros(), 0.0, s.amax, q) - np.percentile(np.abs(x), q)) <= awidth


def test_percentile_ranges():
    x = _data(2)
    s = Stats.of(x)
    lo, hi = data_range(s, "percentile", False, 8, 99.0)
    w = (s.hi - s.lo) / BINS
    assert abs(lo - np.percentile(x, 1.0)) <= w and abs(hi - np.percentile(x, 99.0)) <= w
    lo, hi = data_range(s, "percentile", True, 16, 99.9)
    assert lo == -hi and abs(hi - np.percentile(np.abs(x), 99.9)) <= s.amax / ABS_BINS


def _int8_mse(x, t):
    scale = t / 127
    return float(np.mean((np.clip(np.round(x / scale), -127, 127) * scale - x) ** 2))


def test_entropy_clips_outliers():
    """N(0, 1) plus three far outliers: a good int8 clipping lies a few sigma out (not at 70),
    and it quantizes the bulk of the data with a much smaller error than the min/max range."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(200_000), [60.0, -55.0, 70.0]])
    s = Stats.of(x)
    t = entropy_threshold(s.abs_hist, s.amax, 128)
    assert 2.5 < t < 8.0
    bulk = x[:-3]
    assert _int8_mse(bulk, t) < 0.1 * _int8_mse(bulk, s.amax)
    lo, hi = data_range(s, "entropy", True, 8)
    assert (lo, hi) == (-t, t)
    # 16 bits: more levels than histogram bins, nothing is clipped
    assert data_range(s, "entropy", True, 16) == (-s.amax, s.amax)


def test_entropy_keeps_unclipped_uniform():
    """Uniform data has no tail to cut: the threshold stays near the maximum."""
    x = np.random.default_rng(4).uniform(-1, 1, 100_000)
    s = Stats.of(x)
    assert entropy_threshold(s.abs_hist, s.amax, 128) > 0.95 * s.amax


def test_entropy_ignores_the_relu_zero_spike():
    """After a Relu most values are exactly 0; the threshold must follow the positive tail, as it
    does for the same tail without the zeros (the spike once pulled it to a fraction of that)."""
    rng = np.random.default_rng(5)
    pos = np.abs(rng.standard_normal(60_000))
    relu = np.concatenate([pos, np.zeros(140_000)])
    s, s0 = Stats.of(relu), Stats.of(pos)
    assert s.zeros == 140_000
    lo, hi = data_range(s, "entropy", False, 8)
    assert lo == 0.0 and hi == data_range(s0, "entropy", False, 8)[1] and hi > 3.0
    # percentile of |x| still counts the zeros
    assert abs(data_range(s, "percentile", True, 8, 90.0)[1] - np.percentile(relu, 90.0)) <= s.amax / ABS_BINS


def test_collect_over_batches_is_exact():
    """Statistics gathered through onnxruntime in batches equal numpy's over all samples."""
    m = tiny()
    x = calib_batch(40)
    feeds = [{"x": x[i:i + 1]} for i in range(len(x))]
    stats = collect(m, ["x", "r1"], feeds, hist=True)
    assert (stats["x"].lo, stats["x"].hi) == (x.min(), x.max())
    assert stats["x"].hist.sum() == x.size
    # r1 oracle: the same model with r1 as an output, run on all samples at once
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    probe.graph.output.append(helper.make_tensor_value_info("r1", onnx.TensorProto.FLOAT, None))
    import onnxruntime as ort
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    r1 = np.concatenate([sess.run(["r1"], f)[0] for f in feeds])
    assert stats["r1"].lo == r1.min() and stats["r1"].hi == pytest.approx(r1.max(), rel=1e-6)
