"""Calibration: activation statistics from onnxruntime runs, and the range-choosing methods.

``collect`` adds the tensors to calibrate as graph outputs, runs the calibration samples
through onnxruntime and keeps, per tensor, the exact min / max (first pass) and, for the
percentile and entropy methods, a histogram of x over [min, max] and of the nonzero |x| over
[0, max|x|] plus a count of zeros (second pass).

Methods (each returns the float range [lo, hi] to quantize):

* ``minmax``: [min, max].
* ``percentile``: [P(100 - p), P(p)] of x; symmetric ranges use t = P(p) of |x| -> [-t, t].
  P is ``np.percentile`` (linear interpolation) estimated from the histogram, exact to one bin.
* ``entropy``: the KL-divergence threshold search of the standard histogram method on the
  nonzero values (zero is exact in every range; after a Relu its spike would otherwise dominate
  the divergence and pull the threshold down to ~1/8 of the range on a trained KWS CNN). For
  each candidate threshold (bin i of the |x| histogram, from ``levels`` bins up), the reference
  distribution P is the histogram clipped at i (outliers added to the last kept bin), the
  candidate Q is those i bins merged into ``levels`` quantization bins and spread back over
  their non-empty bins; the threshold minimising KL(P || Q) wins. ``levels`` is 128 for 8-bit
  (|x| uses 7 bits; 255 for a uint8 range of data that is never negative); 16-bit has more
  levels than histogram bins, so nothing is clipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from lne.errors import LNEError

from .evaluate import Runner

BINS = 4096        # histogram of x over [min, max] (percentile)
ABS_BINS = 2048    # histogram of |x| over [0, max |x|] (percentile of |x|, entropy)


@dataclass
class Stats:
    lo: float = np.inf
    hi: float = -np.inf
    hist: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))
    abs_hist: np.ndarray = field(default_factory=lambda: np.zeros(ABS_BINS, np.int64))   # x != 0 only
    zeros: int = 0

    @property
    def amax(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    def update_range(self, x: np.ndarray) -> None:
        if x.size:
            self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))

    def update_hist(self, x: np.ndarray) -> None:
        x = x.ravel()
        if self.hi > self.lo:
            self.hist += np.histogram(x, BINS, (self.lo, self.hi))[0]
        nz = x[x != 0]
        self.zeros += x.size - nz.size
        if self.amax > 0:
            self.abs_hist += np.histogram(np.abs(nz), ABS_BINS, (0.0, self.amax))[0]

    def abs_hist_with_zeros(self) -> np.ndarray:
        h = self.abs_hist.copy()
        h[0] += self.zeros
        return h

    @classmethod
    def of(cls, x: np.ndarray, hist: bool = True) -> "Stats":
        s = cls()
        s.update_range(np.asarray(x, np.float64))
        if hist:
            s.update_hist(np.asarray(x, np.float64))
        return s


def collect(model: onnx.ModelProto, tensors: list[str], feeds: list[dict], hist: bool) -> dict[str, Stats]:
    """Per-tensor statistics of ``tensors`` over the calibration ``feeds``."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in have:
            m.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    runner = Runner(m, outputs=list(tensors))
    stats = {t: Stats() for t in tensors}
    for outs in runner.iterate(feeds):
        for t, x in zip(tensors, outs):
            stats[t].update_range(x)
    if hist:
        for outs in runner.iterate(feeds):
            for t, x in zip(tensors, outs):
                stats[t].update_hist(x)
    for t, s in stats.items():
        if not np.isfinite(s.lo) or not np.isfinite(s.hi):
            raise LNEError(f"calibration: tensor {t!r} has non-finite values (min {s.lo}, max {s.hi})")
    return stats


def hist_percentile(hist: np.ndarray, lo: float, hi: float, q: float) -> float:
    """The q-th percentile (0..100) of the data binned in ``hist`` over [lo, hi]."""
    total = hist.sum()
    if total == 0 or hi <= lo:
        return lo
    # np.percentile's linear rule: the value at rank q/100 * (n - 1) of the sorted data
    target = q / 100.0 * (total - 1) + 0.5
    cdf = np.cumsum(hist)
    b = int(np.searchsorted(cdf, target))
    b = min(b, len(hist) - 1)
    before = cdf[b - 1] if b else 0
    frac = (target - before) / max(hist[b], 1)
    return float(lo + (b + min(max(frac, 0.0), 1.0)) * (hi - lo) / len(hist))


def entropy_threshold(abs_hist: np.ndarray, amax: float, levels: int = 128) -> float:
    """Clipping threshold on |x| minimising KL(P || Q) (the standard histogram method)."""
    n = len(abs_hist)
    if amax <= 0 or levels >= n or abs_hist.sum() == 0:
        return float(amax)
    hist = abs_hist.astype(np.float64)
    width = amax / n
    best_i, best_kl = n, np.inf
    tail = np.cumsum(hist[::-1])[::-1]   # tail[i] = sum(hist[i:])
    for i in range(levels, n + 1):
        p = hist[:i].copy()
        if i < n:
            p[-1] += tail[i]
        nz = hist[:i] != 0
        group = (np.arange(i) * levels) // i
        qsum = np.bincount(group, weights=hist[:i], minlength=levels)
        qcnt = np.bincount(group, weights=nz, minlength=levels)
        q = np.where(nz, qsum[group] / np.maximum(qcnt[group], 1), 0.0)
        kl = _kl(p, q)
        if kl < best_kl:
            best_i, best_kl = i, kl
    return float(best_i * width)


def _kl(p: np.ndarray, q: np.ndarray, eps: float = 1e-4) -> float:
    if q.sum() == 0:
        return np.inf
    p = _smooth(p / p.sum(), eps)
    q = np.maximum(_smooth(q / q.sum(), eps), 1e-12)
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def _smooth(d: np.ndarray, eps: float) -> np.ndarray:
    """Give empty bins a little mass taken from the others (keeps KL finite)."""
    zero = d == 0
    nz = (~zero).sum()
    if nz == 0:
        return d
    d = d.copy()
    d[zero] += eps
    d[~zero] -= eps * zero.sum() / nz
    return d


def data_range(s: Stats, method: str, symmetric: bool, bits: int, percentile: float = 99.99) -> tuple[float, float]:
    """The float range [lo, hi] to quantize a tensor with statistics ``s`` to."""
    if method == "minmax":
        lo, hi = s.lo, s.hi
        if symmetric:
            return -s.amax, s.amax
        return lo, hi
    if method == "percentile":
        if symmetric:
            t = hist_percentile(s.abs_hist_with_zeros(), 0.0, s.amax, percentile)
            return -t, t
        return (hist_percentile(s.hist, s.lo, s.hi, 100.0 - percentile),
                hist_percentile(s.hist, s.lo, s.hi, percentile))
    if method == "entropy":
        # |x| gets 2^(bits-1) levels, or all 2^bits - 1 when an asymmetric range holds only x >= 0
        levels = 2 ** bits - 1 if not symmetric and s.lo >= 0 else 2 ** (bits - 1)
        t = entropy_threshold(s.abs_hist, s.amax, levels)
        if symmetric:
            return -t, t
        return max(s.lo, -t), min(s.hi, t)
    raise LNEError(f"calibration method {method!r}: choose minmax, percentile or entropy")
