"""Per-layer sensitivity to quantization and the automatic mixed-precision plan.

Sensitivity of a layer: the model with only that layer quantized (its weights, bias, input and
output activations), run by onnxruntime on the evaluation samples, against the float model:
SQNR of the first graph output (dB) and, with labels, the top-1 change in points.

The plan starts from every layer quantized (except ``--keep-float`` ones) and returns layers to
float, most sensitive first (largest accuracy drop, then lowest SQNR), until the budget holds:
top-1 within ``budget`` points of the float model with labels, else SQNR >= ``min_sqnr`` dB.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import qdq
from .evaluate import Runner, sqnr_db, top1


@dataclass
class Evaluator:
    """Scores QDQ variants of one prepared model on fixed samples."""
    model: object
    layers: list
    ranges: dict
    share: dict
    mode: str
    feeds: list
    labels: np.ndarray | None = None
    reduce_range: bool = False
    ref: np.ndarray = field(init=False)
    fp_acc: float | None = field(init=False)

    def __post_init__(self):
        self.ref = Runner(self.model).run(self.feeds)[0]
        self.fp_acc = top1(self.ref, self.labels) if self.labels is not None else None
        self.by_name = {L.name: L for L in self.layers}

    def build(self, names):
        return qdq.write(self.model, [self.by_name[n] for n in names], self.ranges, self.share, self.mode,
                         self.reduce_range)[0]

    def score(self, names) -> dict:
        out = Runner(self.build(names)).run(self.feeds)[0]
        r = {"sqnr_db": _finite(sqnr_db(self.ref, out))}
        if self.labels is not None:
            acc = top1(out, self.labels)
            r.update(top1=acc, delta=acc - self.fp_acc)
        return r


def _finite(x: float) -> float:
    return float(min(x, 999.0))


def per_layer(ev: Evaluator, progress=None) -> list[dict]:
    rows = []
    for L in ev.layers:
        r = {"layer": L.name, "op": L.op, **ev.score([L.name])}
        rows.append(r)
        if progress:
            progress(r)
    return rows


def ranking(rows: list[dict]) -> list[str]:
    """Layer names, most sensitive first."""
    return [r["layer"] for r in sorted(rows, key=lambda r: (r.get("delta", 0.0), r["sqnr_db"]))]


def meets(score: dict, ev: Evaluator, budget: float, min_sqnr: float) -> bool:
    if ev.labels is not None:
        return ev.fp_acc - score["top1"] <= budget + 1e-9
    return score["sqnr_db"] >= min_sqnr


def plan(ev: Evaluator, rows: list[dict], keep_float: set[str], budget: float, min_sqnr: float,
         progress=None) -> dict:
    """Mixed precision: layers kept in float (forced + returned), the steps taken, the final score."""
    keep = [n for n in (L.name for L in ev.layers) if n in keep_float]
    order = [n for n in ranking(rows) if n not in keep_float]
    steps = []
    while True:
        quantized = [L.name for L in ev.layers if L.name not in keep]
        score = ev.score(quantized)
        ok = meets(score, ev, budget, min_sqnr)
        steps.append({"float_layers": list(keep), **score, "meets_budget": ok})
        if progress:
            progress(steps[-1])
        if ok or not order:
            break
        keep.append(order.pop(0))
    return {"float_layers": keep, "quantized_layers": quantized, "steps": steps, "meets_budget": ok,
            "final": score}
