"""pytest-benchmark: each reference network on each engine (LNE through lne.InferenceSession,
onnxruntime, ncnn, LiteRT, OpenVINO where installed), one thread, fp32, batch 1.

    pytest benchmarks/test_bench_networks.py --benchmark-group-by=param:name [-k resnet50]

Not collected by CI (which runs `pytest tests`); benchmarks do not pass or fail: a missing peer
or a network a peer cannot take is skipped, and each engine's max abs error against onnxruntime
is recorded in the benchmark's extra_info (see `--benchmark-json`)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")
pytest.importorskip("torch")  # exports the reference networks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import ENGINES, Network  # noqa: E402

from lne.errors import LNEError  # noqa: E402
from lne.models import NAMES  # noqa: E402
from lne.peers import ADAPTERS, PeerSkipped, matches  # noqa: E402


@pytest.fixture(scope="session")
def network(tmp_path_factory):
    made: dict[str, Network] = {}

    def get(name: str) -> Network:
        if name not in made:
            made[name] = Network(name, tmp_path_factory.mktemp("networks"))
        return made[name]
    return get


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", NAMES)
def test_network(benchmark, network, name, engine):
    if engine != "lne" and not ADAPTERS[engine].available():
        pytest.skip(f"{engine} is not installed ({ADAPTERS[engine].install})")
    net = network(name)
    try:
        runner = net.runner(engine)
    except PeerSkipped as e:
        pytest.skip(str(e))
    except LNEError as e:
        pytest.skip(f"{engine} cannot run {name}: {e}")
    benchmark.group = name
    benchmark.extra_info["version"] = runner.version
    if ADAPTERS["onnxruntime"].available():
        ref = ADAPTERS["onnxruntime"].prepare(net.onnx, name).run(net.feeds)
        got = runner.run(net.feeds)
        benchmark.extra_info["max_abs_err_vs_onnxruntime"] = max(matches(a, b)[1] for a, b in zip(got, ref))
    benchmark.pedantic(runner.infer, args=(net.feeds,), rounds=20, iterations=1, warmup_rounds=2)
