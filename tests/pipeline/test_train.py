"""Training tool: layer tables, MAC count, ONNX export, and resuming after the run is killed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lne.errors import LNEError

torch = pytest.importorskip("torch")
pytest.importorskip("h5py")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, layers, depthwise", [
    ("kws9", None, False), ("ds_kws3", None, True), ("custom", [[3, 3, 8], [5, 3, 6], [1, 1, 12]], True)])
def test_architectures_export_and_count_macs_like_lne(tmp_path, name, layers, depthwise):
    from lne.compiler import compile_model
    from lne.models.kws import KWS_CONFIGS
    from lne.pipeline.kws.nets import architecture, build, count_macs, export_onnx
    from lne.session import find_manifest

    from ..conftest import ort_run

    arch = architecture(name, layers, depthwise, 12, [1, 1, 40, 32])
    expect = KWS_CONFIGS[name] if name != "custom" else (layers, depthwise)
    assert [tuple(r) for r in arch["layers"]] == [tuple(r) for r in expect[0]] and arch["depthwise"] == expect[1]
    arch["mean"], arch["std"] = list(np.linspace(-5, 5, 40)), list(np.linspace(1, 3, 40))
    torch.manual_seed(0)
    model = build(arch).eval()
    export_onnx(model, arch["input_shape"], tmp_path / "m.onnx")
    x = np.random.default_rng(0).normal(0, 4, (1, 1, 40, 32)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ort_run(tmp_path / "m.onnx", {"input": x})[0], ref, rtol=1e-4, atol=1e-5)
    m = find_manifest(compile_model(tmp_path / "m.onnx", tmp_path / "bundle"))
    assert count_macs(model, arch["input_shape"]) == sum(n["macs"] for n in m["nodes"])


def test_architecture_errors():
    from lne.pipeline.kws.nets import architecture

    with pytest.raises(LNEError, match="needs the parameter layers"):
        architecture("custom", None, False, 12, [1, 1, 40, 32])
    with pytest.raises(LNEError, match="use architecture: custom"):
        architecture("kws9", [[3, 3, 8]], False, 12, [1, 1, 40, 32])


def test_sampler_state_round_trip():
    from lne.pipeline.kws.train import Sampler

    a = Sampler(7, seed=1)
    first = [a.next(5) for _ in range(3)]
    assert all(sorted(np.concatenate(first)[i:i + 7]) == list(range(7)) for i in (0, 7))   # epochs
    b = Sampler(7, seed=99)
    b.load(json.loads(json.dumps(a.state())))
    np.testing.assert_array_equal(np.concatenate([a.next(4) for _ in range(5)]),
                                  np.concatenate([b.next(4) for _ in range(5)]))


CRASH_WF = """\
steps:
  features:
    tool: tests.pipeline.helpers:RandomFeatures
    params: {n: 240}
  train:
    tool: train-kws
    inputs: {features: features}
    params:
      architecture: custom
      layers: [[3, 3, 8], [3, 3, 8]]
      iterations: 400
      batch_size: 20
      validate_every: 10
      checkpoint_every: 10
"""


def test_killed_training_resumes_from_its_checkpoint_and_never_leaves_half_an_artifact(tmp_path):
    wf, work = tmp_path / "wf.yml", tmp_path / "work"
    wf.write_text(CRASH_WF)
    cmd = [sys.executable, "-m", "lne.cli", "pipeline", "run", str(wf), "-w", str(work), "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        found = list((work / ".scratch").glob("train-*/checkpoint.pt")) if (work / ".scratch").is_dir() else []
        if found:
            ckpt = found[0]
            break
        time.sleep(0.02)
    assert ckpt is not None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(ckpt, weights_only=False)["iteration"]
    assert 10 <= killed_at < 400
    # the killed step left no artifact; its half-written output is only under .tmp
    assert (work / "features" / "metadata.json").is_file()
    assert not (work / "train").exists()
    assert all((p / "metadata.json").is_file() for p in work.iterdir() if not p.name.startswith("."))

    r = subprocess.run(cmd + ["--json"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [(s["step"], s["status"]) for s in json.loads(r.stdout)] == [("features", "cached"), ("train", "ran")]
    metrics = json.loads((work / "train" / "metrics.json").read_text())
    assert metrics["resumed_from"] == killed_at
    assert metrics["iterations_run"] == 400 - metrics["resumed_from"]
    log = (work / "train" / "log.txt").read_text()
    assert f"resumed from checkpoint at iteration {metrics['resumed_from']}" in log
    assert metrics["best_validation_accuracy"] > 0.5          # separable random features
    assert not any((work / ".tmp").iterdir()) and not any((work / ".scratch").iterdir())
    assert (work / "train" / "data" / "model.onnx").is_file()
