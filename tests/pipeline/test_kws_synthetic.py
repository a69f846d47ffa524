"""workflows/kws-synthetic.yml end to end, small: SYNTHETIC speech -> dataset -> MFCC -> training ->
LNE deployment -> accuracy of the PyTorch and the compiled model; then a cached re-run and a
changed training parameter.

The full-size run (150 speakers, 2000 iterations, >= 90% test accuracy) is run by hand:
``lne pipeline run workflows/kws-synthetic.yml``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import have, lne_cli

ROOT = Path(__file__).resolve().parents[2]
WF = ROOT / "workflows" / "kws-synthetic.yml"
SMALL = ["-p", "speakers=20", "-p", "iterations=200", "-p", "augment_copies=0"]

pytestmark = pytest.mark.skipif(not (have("espeak-ng") and have("sox") and have("cmake")),
                                reason="needs espeak-ng, sox and cmake")


def run(work, *extra):
    r = lne_cli("pipeline", "run", WF, "-w", work, "-q", "--json", *SMALL, *extra, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return {s["step"]: s["status"] for s in json.loads(r.stdout)}


def test_kws_synthetic_small(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("librosa")
    work = tmp_path / "work"
    steps = ["speech", "dataset", "features", "train", "deploy", "accuracy"]
    assert run(work) == {s: "ran" for s in steps}

    report = json.loads((work / "accuracy" / "data" / "report.json").read_text())
    assert report["synthetic"] is True and "SYNTHETIC" in report["dataset"]
    assert report["partition"] == "test" and report["samples"] == 24       # 2 held-out speakers x 12
    torch_top1, lne_top1 = report["engines"]["pytorch"]["top1"], report["engines"]["lne"]["top1"]
    assert torch_top1 >= 0.5, report["engines"]["pytorch"]               # chance is 1/12
    assert abs(100 * (lne_top1 - torch_top1)) <= 0.2                      # compiled == PyTorch
    assert report["lne_vs_pytorch"]["prediction_agreement"] == 1.0
    conf = report["engines"]["lne"]["confusion"]
    assert sum(map(sum, conf)) == 24 and len(conf) == 12
    deploy = json.loads((work / "deploy" / "data" / "deploy.json").read_text())
    assert deploy["validation"]["ok"] and deploy["validation"]["real_clips"] == 8
    assert deploy["benchmark"]["lne_median_ms"] > 0 and deploy["synthetic"] is True
    for s in steps:
        assert json.loads((work / s / "metadata.json").read_text())["synthetic"] is True

    before = {s: (work / s / "metadata.json").read_text() for s in steps}
    assert run(work) == {s: "cached" for s in steps}                       # a no-op
    assert {s: (work / s / "metadata.json").read_text() for s in steps} == before

    # one training parameter changed: training and what follows re-run, not the data steps
    r = lne_cli("pipeline", "status", WF, "-w", work, "--json", *SMALL, "-p", "iterations=100", cwd=ROOT)
    assert [(s["step"], s["status"]) for s in json.loads(r.stdout)] == [
        ("speech", "cached"), ("dataset", "cached"), ("features", "cached"), ("train", "stale"),
        ("deploy", "waiting"), ("accuracy", "waiting")]
    assert run(work, "-p", "iterations=100", "--until", "train") == {
        "speech": "cached", "dataset": "cached", "features": "cached", "train": "ran"}
    assert json.loads((work / "train" / "metrics.json").read_text())["iterations"] == 100
