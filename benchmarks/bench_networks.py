"""Side-by-side latency: LNE bundle vs onnxruntime, one thread, batch 1, fp32.

    python benchmarks/bench_networks.py [NAME ...] [--runs 50]

Exports the reference networks (needs torch), compiles and builds each bundle for the host,
then times the example app and onnxruntime (full graph optimisation) in the same run.
Prints medians and the ratio; the machine is noisy, so compare ratios from one run.
Not a test: nothing here passes or fails."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lne.benchmark import bench
from lne.models import NAMES, export_onnx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=list(NAMES))
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    print(f"{'network':15s} {'lne ms':>9s} {'ort ms':>9s} {'lne/ort':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            onnx_path = export_onnx(name, Path(tmp) / f"{name}.onnx")
            r = bench(onnx_path, runs=args.runs, warmup=5, vs=("onnxruntime",))
            lne_ms, ort_ms = r["lne"]["median_ms"], r["onnxruntime"]["median_ms"]
            print(f"{name:15s} {lne_ms:9.3f} {ort_ms:9.3f} {lne_ms / ort_ms:8.2f}", flush=True)


if __name__ == "__main__":
    main()
