"""Measurement of `lne tune`: every candidate kernel timed on its layer's real shapes, on the
target (natively for the host, over ssh with `remote` for a board), and whole plans timed end to
end.

Candidates are timed with the bundle's own per-step profiler: bundle k forces every layer's k-th
candidate still to be measured (cycling through shorter lists), so max(#candidates) builds
measure them all; each layer's time is the median over `runs` profiled runs after `warmup`,
and over interleaved rounds of the bundles (load drift on a shared machine hits all alike).
Times are cached per (target, layer signature, kernel + hash of its code) in a JSON file under
``~/.cache/lne/tune/`` (``$LNE_TUNE_CACHE`` or ``cache=`` elsewhere), so a second tune of a
similar network only measures what it has not seen.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import LNEError
from .progress import bar


def cache_dir(option=None) -> Path:
    return Path(option or os.environ.get("LNE_TUNE_CACHE") or Path.home() / ".cache" / "lne" / "tune")


class Cache:
    """{signature: {kernel: {"ms": median, "runs": n}}} for one target, in one JSON file."""

    def __init__(self, root, target_key: str, reuse: bool = True):
        safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", target_key)
        self.path = Path(root) / f"{safe}.json"
        self.reuse = reuse  # False: measure everything again (the new times still replace the old)
        self.data: dict = {}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self.data = {}  # a damaged cache is only lost time: measure again

    def get(self, sig: str, kernel: str):
        entry = self.data.get(sig, {}).get(kernel) if self.reuse else None
        return None if entry is None else float(entry["ms"])

    def put(self, sig: str, kernel: str, ms: float, runs: int) -> None:
        self.data.setdefault(sig, {})[kernel] = {"ms": ms, "runs": runs}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


class Runner:
    """Compiles, builds and times bundles of one model for one target (here or on a board)."""

    MAX_RUNS = 5000

    def __init__(self, model, target="host", plugins=(), input_shapes=None, weights=None, remote=None,
                 ssh_options=(), workdir=None, min_seconds: float = 0.3):
        from ..benchmark import Remote
        from .. import targets

        self.model, self.target, self.plugins = Path(model), target, tuple(plugins)
        self.input_shapes, self.weights = input_shapes, weights
        self.remote = Remote(remote, ssh_options) if remote else None
        if targets.get(target).cross and self.remote is None:
            raise LNEError(f"target {target} is a board: timings under qemu mean nothing; tune on the board with "
                           "--remote user@board")
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="lne-tune-"))
        self._n = 0
        self._feeds = None
        self.min_seconds = min_seconds  # fast networks get more runs: at least this long timed
        self._run_ms: dict[str, float] = {}

    def build(self, plan: dict[str, str]):
        """Compile with `plan` forced and build; returns (bundle, manifest)."""
        from ..build import build_bundle
        from ..compiler import compile_model
        from ..session import find_manifest

        self._n += 1
        bundle = compile_model(self.model, self.workdir / f"b{self._n}", self.target, weights=self.weights,
                               input_shapes=self.input_shapes, plan=plan, plugins=self.plugins)
        build_bundle(bundle)
        return bundle, find_manifest(bundle)

    def time(self, bundle, m, runs: int, warmup: int, per_layer: bool) -> dict:
        """Run the bundle's app: median of max(runs, enough runs for min_seconds) after warmup."""
        from ..benchmark import _run_app

        if self._feeds is None:
            rng = np.random.default_rng(0)
            self._feeds = {t["name"]: rng.standard_normal(t["shape"]).astype(np.float32) for t in m["inputs"]}
        if self.min_seconds > 0:
            if str(bundle) not in self._run_ms:
                once = _run_app(Path(bundle), m, self._feeds, 1, 0, False, self.remote)["median_ms"]
                self._run_ms[str(bundle)] = max(once, 1e-3)
            runs = int(max(runs, min(self.MAX_RUNS, math.ceil(self.min_seconds * 1e3 / self._run_ms[str(bundle)]))))
        r = _run_app(Path(bundle), m, self._feeds, runs, warmup, per_layer, self.remote)
        self._run_ms[str(bundle)] = max(r["median_ms"], 1e-3)
        return r

    def run_ms(self, bundle) -> float:
        """The last median ms of one run of `bundle` (0 if never timed)."""
        return self._run_ms.get(str(bundle), 0.0)

    def remove(self, bundle) -> None:
        shutil.rmtree(bundle, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def measure_table(runner: Runner, layers, cache: Cache, runs: int = 10, warmup: int = 2, rounds: int = 3,
                  progress: bool = True, slow_round_s: float = 10.0) -> tuple[dict, dict]:
    """table[node][kernel] = ms for every candidate; and counts {"cached": n, "measured": n,
    "bundles": n, "seconds": s}. The bundles are built first, then timed in `rounds` interleaved
    rounds in alternating order (a layer's time: the median over rounds of its per-step median),
    so load that drifts while measuring does not favour the candidates of one bundle. A bundle
    whose round would take over `slow_round_s` (reference kernels on a big network) is timed in
    the first round only: it loses by far more than any drift."""
    t0 = time.perf_counter()
    table = {l.name: {} for l in layers}
    missing = {}
    for l in layers:
        for k, digest in zip(l.kernels, l.digests):
            ms = cache.get(l.signature, f"{k}@{digest}")
            if ms is None:
                missing.setdefault(l.name, []).append(k)
            else:
                table[l.name][k] = ms
    n_bundles = max((len(v) for v in missing.values()), default=0)
    samples: dict[tuple[str, str], list[float]] = {}
    built = []
    try:
        for b in bar(range(n_bundles), "building", progress):
            plan = {l.name: missing[l.name][b % len(missing[l.name])] if l.name in missing else l.default
                    for l in layers}
            built.append((plan, *runner.build(plan)))
        order = list(range(len(built)))
        for r in bar(range(rounds if built else 0), "measuring", progress):
            for i in (order if r % 2 == 0 else order[::-1]):
                plan, bundle, m = built[i]
                if r > 0 and runner.run_ms(bundle) * (2 * runs + warmup + 1) > 1e3 * slow_round_s:
                    continue
                res = runner.time(bundle, m, runs, warmup, per_layer=True)
                stepped = {x["node"]: x["median_ms"] for x in res["layers"]}
                for l in layers:
                    if l.name in missing:  # a node with no step emits no code: 0 ms
                        samples.setdefault((l.name, plan[l.name]), []).append(stepped.get(l.name, 0.0))
    finally:
        for _, bundle, _ in built:
            runner.remove(bundle)
    by_name = {l.name: l for l in layers}
    for (node, k), values in samples.items():
        ms = float(np.median(values))
        table[node][k] = ms
        layer = by_name[node]
        cache.put(layer.signature, f"{k}@{layer.digests[layer.kernels.index(k)]}", ms, runs)
    cache.save()
    n_missing = sum(len(v) for v in missing.values())
    return table, {"cached": sum(len(l.kernels) for l in layers) - n_missing, "measured": n_missing,
                   "bundles": n_bundles, "seconds": time.perf_counter() - t0}


def measure_plans(runner: Runner, plans: dict[str, dict[str, str]], runs: int = 10, warmup: int = 2,
                  rounds: int = 3, progress: bool = True) -> tuple[dict[str, float], dict[str, float]]:
    """End-to-end ms of each named plan: ({label: median}, {label: min}). Identical plans are built
    once; the timings are interleaved over `rounds` rounds in alternating order (the median of the
    round medians; the least run) so drift and order effects hit all alike. On a loaded machine
    the minimum is the less contended estimate; the median is the one to quote."""
    distinct: dict[str, list[str]] = {}
    for label, plan in plans.items():
        distinct.setdefault(json.dumps(plan, sort_keys=True), []).append(label)
    built = []
    try:
        for key in bar(list(distinct), "building", progress):
            built.append((distinct[key], *runner.build(json.loads(key))))
        medians: dict[int, list[float]] = {i: [] for i in range(len(built))}
        mins: dict[int, list[float]] = {i: [] for i in range(len(built))}
        order = list(range(len(built)))
        for r in bar(range(rounds), "timing", progress):
            for i in (order if r % 2 == 0 else order[::-1]):  # ABC CBA ABC: no configuration always first
                _, bundle, m = built[i]
                t = runner.time(bundle, m, runs, warmup, per_layer=False)
                medians[i].append(t["median_ms"])
                mins[i].append(t["min_ms"])
    finally:
        for _, bundle, _ in built:
            runner.remove(bundle)
    median, least = {}, {}
    for i, (labels, _, _) in enumerate(built):
        for label in labels:
            median[label], least[label] = float(np.median(medians[i])), float(min(mins[i]))
    return median, least
