"""Accuracy tool's shared evaluation path against scikit-learn's metrics."""
from __future__ import annotations

import numpy as np
import pytest

from lne.pipeline.kws.accuracy import evaluate

metrics = pytest.importorskip("sklearn.metrics")


class FixedEngine:
    """Returns logits that make row i predict pred[i]; records the batch sizes it was given."""

    def __init__(self, pred, k):
        self.pred, self.k, self.pos, self.batches = pred, k, 0, []

    def predict(self, x):
        n = len(x)
        self.batches.append(n)
        logits = np.zeros((n, self.k), np.float32)
        logits[np.arange(n), self.pred[self.pos:self.pos + n]] = 1.0
        self.pos += n
        return logits


def test_evaluate_matches_sklearn():
    rng = np.random.default_rng(0)
    classes = [f"c{i}" for i in range(5)]
    y = rng.integers(0, 4, 103)                       # class c4 never occurs
    pred = np.where(rng.random(103) < 0.7, y, rng.integers(0, 5, 103))
    eng = FixedEngine(pred, 5)
    r = evaluate(eng, np.zeros((103, 1, 40, 32), np.float32), y, classes, batch=25)
    assert eng.batches == [25, 25, 25, 25, 3]
    assert r["top1"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert r["confusion"] == metrics.confusion_matrix(y, pred, labels=range(5)).tolist()
    recall = metrics.recall_score(y, pred, labels=range(4), average=None)
    assert [r["per_class"][c] for c in classes[:4]] == pytest.approx(list(recall))
    assert r["per_class"]["c4"] is None and r["support"]["c4"] == 0 and r["samples"] == 103
