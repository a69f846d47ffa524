"""Sensitivity analysis finds a deliberately fragile layer and the plan keeps it in float."""
from __future__ import annotations

from lne.quant import qdq
from lne.quant.calibrate import collect, data_range
from lne.quant.evaluate import Runner
from lne.quant.sensitivity import Evaluator, per_layer, plan, ranking

from .nets import calib_batch, tiny


def _evaluator(labels: bool, mode="int8"):
    p = qdq.prepare(tiny(fragile=True), mode)
    layers = qdq.find_layers(p)
    tensors, share = qdq.activations(p, layers)
    x = calib_batch(48, seed=2)
    feeds = [{"x": x[i:i + 1]} for i in range(len(x))]
    stats = collect(p, tensors, feeds, hist=False)
    ranges = {t: data_range(stats[t], "minmax", mode == "int16", qdq.BITS[mode]) for t in tensors}
    y = Runner(p).run(feeds[24:])[0].argmax(axis=1) if labels else None   # labels: the float model's answers
    return Evaluator(p, layers, ranges, share, mode, feeds[24:], y)


def test_fragile_layer_ranks_first_and_plan_keeps_it_float():
    ev = _evaluator(labels=False)
    rows = per_layer(ev)
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "fc"]
    assert ranking(rows)[0] == "conv2"
    by = {r["layer"]: r["sqnr_db"] for r in rows}
    assert by["conv2"] < 10.0 < 25.0 < min(by["conv1"], by["fc"])
    p = plan(ev, rows, set(), budget=1.0, min_sqnr=25.0)
    assert p["float_layers"] == ["conv2"] and p["meets_budget"]
    assert p["steps"][0]["sqnr_db"] < 25.0 <= p["final"]["sqnr_db"]
    assert set(p["quantized_layers"]) == {"conv1", "fc"}


def test_accuracy_budget_with_labels():
    ev = _evaluator(labels=True)
    assert ev.fp_acc == 100.0
    rows = per_layer(ev)
    worst = min(rows, key=lambda r: r["delta"])
    assert worst["layer"] == "conv2" and worst["delta"] < -5.0
    p = plan(ev, rows, {"fc"}, budget=2.0, min_sqnr=0.0)
    # the forced layer stays float; conv2 joins it; the budget holds on the final model
    assert p["float_layers"][0] == "fc" and "conv2" in p["float_layers"]
    assert ev.fp_acc - p["final"]["top1"] <= 2.0


def test_int16_resolves_what_int8_loses():
    """16-bit weights still see the small weights beside the outlier; the other layers are near exact."""
    r8 = {r["layer"]: r["sqnr_db"] for r in per_layer(_evaluator(labels=False, mode="int8"))}
    r16 = {r["layer"]: r["sqnr_db"] for r in per_layer(_evaluator(labels=False, mode="int16"))}
    assert r16["conv2"] > r8["conv2"] + 15.0
    assert min(r16["conv1"], r16["fc"]) > 60.0 > max(r8["conv1"], r8["fc"]) > 25.0
