"""The command line: each subcommand's contract, exit codes, stdout for results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lne import ops

from ..conftest import lne_cli

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"


def test_help_has_examples():
    for cmd in ("compile", "inspect", "validate", "bench", "supported-ops", "targets"):
        r = lne_cli(cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout, cmd


def test_supported_ops_json():
    r = lne_cli("supported-ops", "--json")
    data = json.loads(r.stdout)
    assert data["runtime"] == ops.supported()
    assert "Shape" in data["constant_folded_only"] and "Conv" in data["runtime"]


def test_targets_lists_host():
    data = json.loads(lne_cli("targets", "--json").stdout)
    assert "host" in data


def test_compile_inspect_validate(tmp_path):
    out = tmp_path / "b"
    r = lne_cli("compile", SAMPLE, "--target", "host", "-o", out, "--json", "--dump-ir", "fuse_activations")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["name"] == "ds_cnn" and (out / "ds_cnn.h").is_file()
    assert "# IR after fuse_activations" in r.stderr
    header = (out / "ds_cnn.h").read_text()
    assert f"#define DS_CNN_ARENA_SIZE {summary['arena_size']}u" in header
    assert f"#define DS_CNN_WEIGHTS_SIZE {summary['weights_size']}u" in header
    assert (out / "ds_cnn.weights.bin").stat().st_size == summary["weights_size"]

    r = lne_cli("inspect", out)
    assert r.returncode == 0
    assert "live-set bound" in r.stdout and "naive sum" in r.stdout and "conv2d_f32_depthwise" in r.stdout

    x = np.random.default_rng(1).standard_normal((1, 1, 40, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = lne_cli("validate", SAMPLE, out, "--input", f"input={tmp_path / 'x.npy'}", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["outputs"][0]["max_abs"] < 1e-4


def test_validate_per_layer_names_the_first_bad_layer(tmp_path):
    r = lne_cli("validate", SAMPLE, "--per-layer", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["layers_compared"] >= 12 and report["first_mismatch"] is None
    # absurd tolerance: now the first layer is flagged and the exit code says so
    r = lne_cli("validate", SAMPLE, "--per-layer", "--json", "--rtol", "0", "--atol", "0")
    assert r.returncode == 1
    assert json.loads(r.stdout)["first_mismatch"]["node"]


def test_bad_arguments_are_clear(tmp_path):
    r = lne_cli("compile", SAMPLE, "-o", tmp_path / "o", "--target", "pdp11")
    assert r.returncode == 2 and "unknown target 'pdp11'" in r.stderr
    r = lne_cli("compile", SAMPLE, "-o", tmp_path / "o", "--input-shape", "input=1xAx3")
    assert r.returncode == 2 and "NAME=D1xD2" in r.stderr
    r = lne_cli("compile", SAMPLE, "-o", tmp_path / "o", "--dump-ir", "nosuchpass")
    assert r.returncode == 2 and "passes are" in r.stderr
    assert not (tmp_path / "o").exists()


def test_bench_per_layer_vs_onnxruntime():
    r = lne_cli("bench", SAMPLE, "--runs", "3", "--warmup", "1", "--per-layer", "--vs", "onnxruntime", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    layers = data["lne"]["layers"]
    assert [layer["op"] for layer in layers][:2] == ["Conv", "Conv"]
    assert all(layer["median_ms"] >= 0 for layer in layers)
    # the profiled steps are exactly the layers that run code, in order
    assert len(layers) == len([n for n in data and json.loads(lne_cli("inspect", SAMPLE, "--json").stdout)["nodes"]
                               if not n["kernel"].endswith("_view")])
    assert data["onnxruntime"]["median_ms"] > 0 and data["lne"]["median_ms"] > 0
