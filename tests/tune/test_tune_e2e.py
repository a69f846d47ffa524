"""`lne tune` end to end on a small KWS reference network (kws1: its convs have real choices):
measured on this machine, the plan written with its plots, a cached second tune that gives the
same plan, and the tuned bundle against onnxruntime."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lne.tune.candidates import model_layers
from lne.tune.plan import plan_for_model
from lne.tune.tuner import LIBRARY_MARGIN, tune
from tests.conftest import lne_cli, ort_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_tune_kws1_end_to_end(reference_model, tmp_path, compile_run):
    """One test (the tune is the expensive part, so it runs once, in one xdist worker)."""
    model = reference_model("kws1")
    r = lne_cli("tune", model, "--target", "host", "-o", tmp_path / "plan" / "kws1.json", "--cache",
                tmp_path / "cache", "--no-plugins", "--runs", 3, "--warmup", 1, "--rounds", 1, "--min-time", 0.02,
                "--episodes", 300, "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    _check_plan_and_plots(model, tmp_path, summary)
    _check_cached_retune(model, tmp_path)
    _check_against_onnxruntime(model, tmp_path, compile_run)


def _check_plan_and_plots(model, tmp, summary):
    doc = json.loads((tmp / "plan" / "kws1.json").read_text())
    layers = {l.name: l for l in model_layers(model, plugins=doc["plugins"])}
    assert [n["name"] for n in doc["nodes"]] == list(layers)
    assert all(n["kernel"] in layers[n["name"]].kernels for n in doc["nodes"])
    assert doc["fingerprint"].startswith("sha256:") and doc["target"] == "host"
    assert doc["predicted_ms"] == pytest.approx(sum(n["predicted_ms"] for n in doc["nodes"]))
    # the search's plan is the optimum of its measured table (exact DP oracle in tune())
    assert doc["search"]["reached_optimum"] and summary["reached_optimum"]
    pred = summary["predicted_ms"]
    assert pred["plan"] == pytest.approx(pred["optimum"])
    assert pred["plan"] <= min(v for k, v in pred.items() if k.startswith("library:")) + 1e-12
    assert pred["plan"] <= pred["random"] + 1e-12 and pred["plan"] <= pred["default"] + 1e-12
    measured = summary["measured_ms"]
    assert {"plan", "default", summary["best_library"]} <= set(measured)
    assert "random" not in measured  # predicted only, unless --time-random
    libs = {k: v for k, v in pred.items() if k.startswith("library:")}
    assert {"library:ref", "library:lne", "library:winograd"} <= set(libs)
    assert all((k in measured) == (v <= LIBRARY_MARGIN * min(libs.values())) for k, v in libs.items())
    assert all(v > 0 for v in measured.values()) and doc["measured_ms"] == measured["plan"]
    assert [Path(p).name for p in summary["plots"]] == ["kws1.convergence.png", "kws1.layers.png"]
    for png in summary["plots"]:
        assert open(png, "rb").read(8) == PNG_MAGIC
    import matplotlib.image
    assert matplotlib.image.imread(summary["plots"][0]).shape[0] > 100


def _check_cached_retune(model, tmp):
    """Same seed, same (cached) table: nothing measured again, the same plan."""
    s = tune(model, tmp / "again.json", plugins=(), cache=tmp / "cache", episodes=300, end_to_end=False,
             plots=False, progress=False)
    assert s["measurement"]["measured"] == 0 and s["measurement"]["bundles"] == 0
    first = json.loads((tmp / "plan" / "kws1.json").read_text())["nodes"]
    again = json.loads((tmp / "again.json").read_text())["nodes"]
    assert [(n["name"], n["kernel"]) for n in again] == [(n["name"], n["kernel"]) for n in first]
    assert not (tmp / "again.convergence.png").exists()


def _check_against_onnxruntime(model, tmp, compile_run):
    import onnx

    kernels, plugins = plan_for_model(tmp / "plan" / "kws1.json", model)
    name = onnx.load(str(model)).graph.input[0].name
    feeds = {name: np.random.default_rng(1).standard_normal((1, 1, 40, 32)).astype(np.float32)}
    (got,), sess = compile_run(model, feeds, plan=kernels, plugins=plugins)
    (want,) = ort_run(model, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
