"""lne.peers: the peer adapters `lne bench --vs` and benchmarks/ time LNE against. Only what runs
without the optional peers (ncnn, LiteRT, OpenVINO) is required; those are checked when installed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lne import peers
from lne.benchmark import _time_peers, bench, describe
from lne.errors import LNEError

from ..conftest import lne_cli, ort_run

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"


def _feeds():
    import onnx

    inp = onnx.load(str(SAMPLE)).graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    return {inp.name: np.random.default_rng(1).standard_normal(shape).astype(np.float32)}


def test_onnxruntime_adapter_times_and_computes_what_ort_does():
    pytest.importorskip("onnxruntime")
    feeds = _feeds()
    runner = peers.ADAPTERS["onnxruntime"].prepare(SAMPLE, "ds_cnn")
    out = runner.run(feeds)
    expected = ort_run(SAMPLE, feeds)
    assert len(out) == len(expected)
    for a, b in zip(out, expected):
        np.testing.assert_array_equal(a, b)
    t = runner.time(5, 1, feeds)
    assert 0 < t["min_ms"] <= t["median_ms"] <= t["max_ms"]


def test_matches_judges_relative_to_the_reference_and_ignores_a_dropped_batch_dim():
    ref = np.linspace(-100, 100, 12, dtype=np.float32).reshape(1, 12)
    assert peers.matches(ref[0] + 0.05, ref) == (True, pytest.approx(0.05, rel=1e-3))  # 0.05 <= 1e-3 * 100
    ok, err = peers.matches(ref[0] + 0.5, ref)
    assert not ok and err == pytest.approx(0.5, rel=1e-3)
    assert peers.matches(ref[0, :6], ref) == (False, float("inf"))


def test_unknown_peer_lists_the_installed_ones():
    r = lne_cli("bench", SAMPLE, "--runs", "1", "--vs", "tensorrt")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'tensorrt'" in r.stderr and "installed here:" in r.stderr
    for name in peers.installed():
        assert name in r.stderr
    assert set(peers.resolve(["all"])) == set(peers.installed())


def test_missing_peer_package_is_a_clear_error_before_compiling(monkeypatch, tmp_path):
    monkeypatch.setattr(peers.Ncnn, "available", lambda self: False)
    with pytest.raises(LNEError, match=r"--vs ncnn needs the ncnn and pnnx packages: pip install ncnn pnnx"):
        bench(SAMPLE, vs=("ncnn",), log=lambda m: pytest.fail(f"worked before failing: {m}"))
    with pytest.raises(LNEError, match="pip install ncnn pnnx"):
        peers.ADAPTERS["ncnn"].prepare(SAMPLE, "ds_cnn")


class _WrongPeer(peers.Peer):
    name, module, install = "wrong", "numpy", ""

    def _prepare(self, model_path, name, shapes):
        return peers.Runner(lambda feeds: [np.zeros((1, 12), np.float32)], "0")


def test_peer_results_skips_and_output_mismatches(monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setitem(peers.ADAPTERS, "wrong", _WrongPeer())
    monkeypatch.setattr(peers.LiteRT, "available", lambda self: True)
    monkeypatch.setattr("lne.benchmark.PEERS", (*peers.PEERS, "wrong"))
    logged = []
    result = {"name": "mine", "target": "host", "macs": 1, "runs": 2, "lne": {
        "median_ms": 1.0, "min_ms": 1.0, "max_ms": 1.0, "gflops": 0.0}}
    _time_peers(result, ["onnxruntime", "litert", "wrong"], SAMPLE, "mine", _feeds(), 2, 0, logged.append)
    assert result["onnxruntime"]["matches"] and result["onnxruntime"]["max_abs_err"] == 0.0
    assert "not a reference network" in result["litert"]["skipped"]  # LiteRT converts PyTorch nets only
    assert result["wrong"]["matches"] is False and any("wrong's outputs differ" in m for m in logged)
    text = describe(json.loads(json.dumps(result)))
    assert "litert       skipped" in text and "lne / wrong" in text


@pytest.mark.parametrize("peer", ["ncnn", "openvino"])
def test_installed_peer_computes_what_onnxruntime_does(peer, monkeypatch, tmp_path):
    if not peers.ADAPTERS[peer].available():
        pytest.skip(f"{peer} is not installed")
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("LNE_PEER_CACHE", str(tmp_path))
    feeds = _feeds()
    out = peers.ADAPTERS[peer].prepare(SAMPLE, "ds_cnn").run(feeds)
    for a, b in zip(out, ort_run(SAMPLE, feeds), strict=True):
        assert peers.matches(a, b)[0]
