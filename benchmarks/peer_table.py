"""The peer table: every reference network x every installed engine, in one process, one thread,
fp32, batch 1; rounds interleaved (each round times every engine once, in a rotating order) and
the median of the round medians reported. Writes a markdown table to stdout or --out FILE.

    python benchmarks/peer_table.py [NAME ...] [--rounds 5] [--seconds 0.3] [--out FILE] [--json FILE]

Columns: network | best peer | its median ms | onnxruntime ms | best peer / onnxruntime | LNE ms |
LNE / onnxruntime | LNE / best peer, then a second table with every engine's median.
An engine whose outputs differ from onnxruntime's beyond rtol 1e-3 is marked "(!)".
Not a test: nothing here passes or fails. See benchmarks/README.md for installing the peers."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engines import PEER_TITLES, TITLES, Network, installed_engines  # noqa: E402

from lne.errors import LNEError  # noqa: E402
from lne.models import NAMES  # noqa: E402
from lne.peers import PeerSkipped, matches  # noqa: E402

TABLE_FIRST = ("kws_cnn", "kws1", "ds_cnn", "ds_kws1", "alexnet", "googlenet", "squeezenet1_1",
               "mobilenet_v2", "resnet50")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure(net: Network, engines: list[str], rounds: int, seconds: float) -> dict:
    """{engine: {"median_ms", "rounds_ms", "version", "matches", "max_abs_err"} or {"skipped": why}}."""
    runners, out = {}, {}
    for e in engines:
        try:
            runners[e] = net.runner(e)
        except PeerSkipped as err:
            out[e] = {"skipped": str(err)}
        except LNEError as err:
            out[e] = {"skipped": f"failed: {err}"}
        if e in out:
            log(f"  {e}: {out[e]['skipped']}")
    reference = runners["onnxruntime"].run(net.feeds) if "onnxruntime" in runners else None
    runs = {}
    for e, r in runners.items():
        got = r.run(net.feeds)
        out[e] = {"version": r.version, "rounds_ms": []}
        if reference is not None:
            checks = [matches(a, b) for a, b in zip(got, reference)]
            out[e]["matches"] = len(checks) == len(reference) and all(ok for ok, _ in checks)
            out[e]["max_abs_err"] = max(err for _, err in checks)
        t0 = time.perf_counter()  # size the rounds: about `seconds` per engine per round
        r.time(3, 0, net.feeds)
        per_run = (time.perf_counter() - t0) / 3
        runs[e] = int(min(500, max(3, seconds / max(per_run, 1e-6))))
    order = list(runners)
    for k in range(rounds):
        for e in order[k % len(order):] + order[:k % len(order)]:
            out[e]["rounds_ms"].append(runners[e].time(runs[e], 1, net.feeds)["median_ms"])
    for e in runners:
        out[e]["median_ms"] = float(np.median(out[e]["rounds_ms"]))
        out[e]["runs_per_round"] = runs[e]
    return out


def _ms(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _cell(res: dict, e: str) -> str:
    r = res.get(e)
    if r is None or "median_ms" not in r:
        return "—"
    return _ms(r["median_ms"]) + ("" if r.get("matches", True) else " (!)")


def table(results: dict, engines: list[str]) -> str:
    peers = [e for e in engines if e != "lne"]
    lines = ["| network | best peer | its median ms | onnxruntime ms | best peer / onnxruntime | LNE ms | "
             "LNE / onnxruntime | LNE / best peer |", "|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        timed = {e: res[e]["median_ms"] for e in peers if "median_ms" in res.get(e, {})
                 and res[e].get("matches", True)}
        best = min(timed, key=timed.get) if timed else None
        ort = res.get("onnxruntime", {}).get("median_ms")
        lne_ms = res.get("lne", {}).get("median_ms")
        row = [TITLES.get(name, name), PEER_TITLES.get(best, "—"), _ms(timed[best]) if best else "—",
               _ms(ort) if ort else "—", f"{timed[best] / ort:.2f}" if best and ort else "—",
               _cell(res, "lne"), f"{lne_ms / ort:.2f}" if lne_ms and ort else "—",
               f"{lne_ms / timed[best]:.2f}" if lne_ms and best else "—"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Every engine (median ms; (!) = outputs differ from onnxruntime's beyond rtol 1e-3):", "",
              "| network | " + " | ".join(PEER_TITLES.get(e, "LNE") for e in engines) + " |",
              "|---|" + "---|" * len(engines)]
    for name, res in results.items():
        lines.append(f"| {TITLES.get(name, name)} | " + " | ".join(_cell(res, e) for e in engines) + " |")
    return "\n".join(lines)


def header(engines: list[str], results: dict, args) -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    versions = {e: next((r[e]["version"] for r in results.values() if "version" in r.get(e, {})), "?")
                for e in engines}
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return (f"One thread, fp32, batch 1, {args.rounds} interleaved rounds of ~{args.seconds:g} s per engine "
            f"(median of round medians). CPU: {cpu} ({os.cpu_count()} cores); load average at the end: "
            f"{', '.join(f'{x:.2f}' for x in load)}. Versions: "
            + ", ".join(f"{e} {v}" for e, v in versions.items()) + ".\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"networks (default: all, the issue's 9 first): {', '.join(NAMES)}")
    ap.add_argument("--engines", help="comma-separated subset of: " + ", ".join(installed_engines()))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3, help="time per engine per round")
    ap.add_argument("--workdir", type=Path, help="keep exported models and bundles here (default: a temp dir)")
    ap.add_argument("--out", type=Path, help="write the markdown table here (default: stdout)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args()
    names = args.names or list(TABLE_FIRST) + [n for n in NAMES if n not in TABLE_FIRST]
    engines = installed_engines()
    if args.engines:
        wanted = args.engines.split(",")
        bad = [e for e in wanted if e not in engines]
        if bad:
            sys.exit(f"error: engine {bad[0]!r} is not installed; installed: {', '.join(engines)}")
        engines = [e for e in engines if e in wanted]
    if "onnxruntime" not in engines:
        sys.exit("error: the table needs onnxruntime (pip install 'lne[bench]')")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="lne-peer-table-") as tmp:
        workdir = args.workdir or Path(tmp)
        for name in names:
            log(f"{name}: exporting, compiling, preparing {', '.join(engines)} ...")
            results[name] = measure(Network(name, workdir), engines, args.rounds, args.seconds)
            log("  " + ", ".join(f"{e} {r['median_ms']:.3f} ms" for e, r in results[name].items()
                                  if "median_ms" in r))
            if args.json:  # written as it goes: a long run interrupted keeps what it measured
                args.json.write_text(json.dumps(results, indent=1))
    text = header(engines, results, args) + "\n" + table(results, engines) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
