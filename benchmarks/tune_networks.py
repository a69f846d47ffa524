"""`lne tune` on the reference networks: the tuned plan beside the best single-library
configuration, random search with the same budget and the default heuristic, all timed end to
end in the same run (one thread, batch 1, fp32, host).

    python benchmarks/tune_networks.py [NAME ...] [--runs 10] [--warmup 2] [--episodes 2000] [--out DIR]

Exports the networks (needs torch), runs `lne.tune.tune` on each (measurement cache in
DIR/cache, plans and plots in DIR), and prints one line per network: medians in ms and the
ratios plan / best library and plan / random. The machine is noisy: compare numbers from one
run. Not a test: nothing here passes or fails."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from lne.models import NAMES, export_onnx
from lne.tune.tuner import tune


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=list(NAMES))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--episodes", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-libraries", action="store_true", help="time every single-library configuration")
    ap.add_argument("--no-plugins", action="store_true")
    ap.add_argument("--out", type=Path, help="keep plans, plots and the measurement cache here")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lne-tune-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    print("per configuration: end-to-end median / least run / predicted (sum of per-layer medians), ms",
          flush=True)
    print(f"{'network':14s} {'layers':>6s} {'plan':>26s} {'best library':>36s} {'random':>26s} {'default':>26s} "
          f"{'plan/lib':>8s} {'plan/rnd':>8s} {'tune s':>7s}", flush=True)
    rows = []
    for name in args.names:
        model = out / f"{name}.onnx"
        if not model.exists():
            export_onnx(name, model)
        s = tune(model, out / f"{name}.plan.json", plugins=() if args.no_plugins else None, episodes=args.episodes,
                 seed=args.seed, runs=args.runs, warmup=args.warmup, rounds=args.rounds, min_time=args.min_time,
                 cache=out / "cache", all_libraries=args.all_libraries, time_random=True, progress=False)
        m, least, pred, lib = s["measured_ms"], s["measured_min_ms"], s["predicted_ms"], s["best_library"]
        rows.append({"network": name, **s})

        def cell(k):
            return f"{m[k]:8.3f} {least[k]:8.3f} {pred[k]:8.3f}"
        print(f"{name:14s} {s['layers']:6d} {cell('plan')} {lib.removeprefix('library:'):>9s} {cell(lib)} "
              f"{cell('random')} {cell('default')} {m['plan'] / m[lib]:8.3f} {m['plan'] / m['random']:8.3f} "
              f"{s['seconds']:7.1f}", flush=True)
    (out / "summary.json").write_text(json.dumps(rows, indent=1))
    print(f"plans, plots and summary.json in {out}")


if __name__ == "__main__":
    main()
