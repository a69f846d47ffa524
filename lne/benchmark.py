"""`lne bench`: time a built bundle's example app beside onnxruntime, one thread each."""
from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import LNEError


def bench_bundle(bundle: Path, compare=None, runs: int = 100, warmup: int = 10) -> dict:
    from .build import build_bundle
    from .session import find_manifest

    m = find_manifest(bundle)
    app = bundle / "build" / f"{m['name']}_example"
    if not app.is_file():
        build_bundle(bundle)
    rng = np.random.default_rng(0)
    feeds = {t["name"]: rng.standard_normal(t["shape"]).astype(np.float32) for t in m["inputs"]}
    with tempfile.TemporaryDirectory(prefix="lne-bench-") as tmp:
        ins = []
        for i, t in enumerate(m["inputs"]):
            p = Path(tmp) / f"in{i}.bin"
            feeds[t["name"]].tofile(p)
            ins.append(str(p))
        outs = [str(Path(tmp) / f"out{i}.bin") for i in range(len(m["outputs"]))]
        cmd = [str(app), str(bundle / f"{m['name']}.weights.bin"), *ins, *outs, "--repeat", str(runs),
               "--warmup", str(warmup)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LNEError(f"{app.name} failed: {proc.stderr.strip()}")
        found = re.search(r"median_ms=([0-9.]+)", proc.stdout)
        if not found:
            raise LNEError(f"{app.name} printed no timing: {proc.stdout!r}")
    result = {"bundle": str(bundle), "runs": runs, "lne_median_ms": float(found.group(1))}
    if compare:
        try:
            import onnxruntime as ort
        except ImportError:
            raise LNEError("--compare needs onnxruntime: pip install 'lne[validate]'") from None
        # the peer runs with its full graph optimisation: it is timed at its best
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(compare), so, providers=["CPUExecutionProvider"])
        for _ in range(warmup):
            sess.run(None, feeds)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1e3)
        result["ort_median_ms"] = float(np.median(times))
        result["ort_version"] = ort.__version__
    return result
