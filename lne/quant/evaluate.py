"""Run models with onnxruntime (the evaluator of the quantizer) and score them: SQNR, top-1.

Sessions use ``ORT_ENABLE_BASIC``: QuantizeLinear / DequantizeLinear then run as the ONNX spec
defines them (float math on dequantized values), the exact semantics of the QDQ model. At higher
levels onnxruntime fuses DQ -> Conv -> Q into its own int8 kernels, which on x86 CPUs without
AVX-VNNI saturate the int16 sums of u8 x s8 pairs (vpmaddubsw) for full-range 8-bit weights: on
such a machine the fused result can be far from the model's meaning (12 dB instead of 36 dB
output SQNR on tests/quant/nets.tiny), so it is no oracle for it.

:class:`Runner` runs a list of batch-1 feeds. When the model still runs and agrees with itself
after its batch dimension is made symbolic, samples go through in batches (fast); otherwise
one by one.
"""
from __future__ import annotations

import copy

import numpy as np

from lne.errors import LNEError

BATCH = 64


def _session(model):
    try:
        import onnxruntime as ort
    except ImportError:
        raise LNEError("the quantizer evaluates models with onnxruntime: pip install onnxruntime") from None
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    try:
        return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise LNEError(f"onnxruntime cannot load the model: {str(e).splitlines()[0]}") from None


def _batched(model):
    """A copy of ``model`` with a symbolic batch dimension on inputs and outputs (or None)."""
    m = copy.deepcopy(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if not len(dims) or (dims[0].HasField("dim_value") and dims[0].dim_value != 1):
            return None
        dims[0].dim_param = "batch"
    del m.graph.value_info[:]
    return m


class Runner:
    """``Runner(model).run(feeds) -> list of stacked outputs`` (one array per graph output)."""

    def __init__(self, model, outputs: list[str] | None = None):
        self.names = outputs
        self.sess = _session(model)
        self.batched, self.checked = None, False
        bm = _batched(model)
        if bm is not None:
            try:
                self.batched = _session(bm)
            except LNEError:
                self.batched = None

    def _one(self, sess, feed):
        try:
            return sess.run(self.names, feed)
        except Exception as e:
            raise LNEError(f"onnxruntime failed to run the model: {str(e).splitlines()[0]}") from None

    def run(self, feeds: list[dict]) -> list[np.ndarray]:
        if self.batched is not None and len(feeds) >= 2 and not self.checked:
            self.checked = True
            try:
                probe = self.batched.run(self.names, _stack(feeds[:2]))
                single = self._one(self.sess, feeds[1])
                if not all(p.shape[0] == 2 and np.allclose(p[1:], s, rtol=1e-4, atol=1e-5)
                           for p, s in zip(probe, single)):
                    raise ValueError("batch disagrees")
            except Exception:
                self.batched = None
        if self.batched is not None and len(feeds) >= 2:
            parts = [self.batched.run(self.names, _stack(feeds[i:i + BATCH])) for i in range(0, len(feeds), BATCH)]
        else:
            parts = [self._one(self.sess, f) for f in feeds]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]

    def iterate(self, feeds: list[dict]):
        """Yield the outputs batch by batch (bounded memory)."""
        for i in range(0, len(feeds), BATCH):
            yield self.run(feeds[i:i + BATCH])


def _stack(feeds: list[dict]) -> dict:
    return {k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]}


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (test - ref)^2), +inf when equal."""
    ref = np.asarray(ref, np.float64)
    noise = float(np.sum((np.asarray(test, np.float64) - ref) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(max(signal, 1e-30) / noise)


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent of (N, ..., classes) outputs."""
    pred = np.asarray(logits).reshape(len(labels), -1).argmax(axis=1)
    return 100.0 * float(np.mean(pred == labels))
