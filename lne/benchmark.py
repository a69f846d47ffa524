"""`lne bench`: time a built bundle's example app beside peers (onnxruntime, ncnn, LiteRT,
OpenVINO: lne.peers), one thread each, in the same run; optionally per layer."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import LNEError
from .peers import ADAPTERS, PEERS, PeerSkipped, matches, resolve


def _parse_app_output(stdout: str, m: dict, per_layer: bool, app: str) -> dict:
    found = re.search(r"median_ms=([0-9.]+) min_ms=([0-9.]+) max_ms=([0-9.]+)", stdout)
    if not found:
        raise LNEError(f"{app} printed no timing: {stdout!r}")
    r = {"median_ms": float(found.group(1)), "min_ms": float(found.group(2)), "max_ms": float(found.group(3))}
    if per_layer:
        step_ms = {int(s): float(v) for s, v in re.findall(r"step=(\d+) median_ms=([0-9.]+)", stdout)}
        nodes = {n["name"]: n for n in m["nodes"]}
        r["layers"] = [{"node": name, "op": nodes[name]["op"], "kernel": nodes[name]["kernel"],
                        "macs": nodes[name]["macs"], "median_ms": step_ms.get(i, float("nan"))}
                       for i, name in enumerate(m.get("steps", []))]
    return r


def _run_app(bundle: Path, m: dict, feeds: dict, runs: int, warmup: int, per_layer: bool,
             remote: "Remote | None" = None) -> dict:
    """Time the example app: here, or on a board over ssh (copied there, run, removed)."""
    app = bundle / "build" / f"{m['name']}_example"
    flags = ["--repeat", str(runs), "--warmup", str(warmup)] + (["--profile"] if per_layer else [])
    with tempfile.TemporaryDirectory(prefix="lne-bench-") as tmp:
        ins = []
        for i, t in enumerate(m["inputs"]):
            p = Path(tmp) / f"in{i}.bin"
            feeds[t["name"]].tofile(p)
            ins.append(p)
        outs = [f"out{i}.bin" for i in range(len(m["outputs"]))]
        weights = bundle / f"{m['name']}.weights.bin"
        if remote is not None:
            stdout = remote.run_app([app, weights, *ins], outs, flags)
        else:
            cmd = [str(app), str(weights), *map(str, ins), *(str(Path(tmp) / o) for o in outs), *flags]
            single_thread = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # plugins
            proc = subprocess.run(cmd, capture_output=True, text=True, env=single_thread)
            if proc.returncode != 0:
                raise LNEError(f"{app.name} failed: {proc.stderr.strip()}")
            stdout = proc.stdout
    return _parse_app_output(stdout, m, per_layer, app.name)


class Remote:
    """A board reached over ssh: `user@host` or `user@host:port`, plus extra `ssh -o` options."""

    def __init__(self, spec: str, options=()):
        dest, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
        if not dest or (port and not port.isdigit()):
            raise LNEError(f"--remote {spec!r}: expected user@host or user@host:port")
        self.dest, self.port = dest, port
        self.opts = ["-o", "BatchMode=yes"] + [a for o in options for a in ("-o", o)]

    def _ssh(self, command: str, timeout: float = 600) -> str:
        cmd = ["ssh", *self.opts] + (["-p", self.port] if self.port else []) + [self.dest, command]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise LNEError(f"ssh {self.dest}: `{command}` failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def run_app(self, files: list[Path], outputs: list[str], flags: list[str]) -> str:
        workdir = self._ssh("mktemp -d /tmp/lne-bench.XXXXXX").strip()
        if not re.fullmatch(r"/tmp/lne-bench\.[A-Za-z0-9]+", workdir):
            raise LNEError(f"ssh {self.dest}: unexpected temporary folder {workdir!r}")
        try:
            scp = ["scp", "-q", *self.opts] + (["-P", self.port] if self.port else [])
            proc = subprocess.run([*scp, *map(str, files), f"{self.dest}:{workdir}/"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise LNEError(f"scp to {self.dest} failed: {proc.stderr.strip()}")
            names = [f"{workdir}/{Path(f).name}" for f in files]
            return self._ssh(" ".join([names[0], *names[1:], *(f"{workdir}/{o}" for o in outputs), *flags]))
        finally:
            self._ssh(f"rm -rf {workdir}")


def bench(path: Path, target: str = "host", runs: int = 100, warmup: int = 10, per_layer: bool = False,
          vs=(), model=None, log=lambda m: None, remote: str | None = None, ssh_options=()) -> dict:
    """Bench a bundle folder or a model file (compiled to a temporary bundle first), here or on a
    board over ssh (`remote`)."""
    from .build import build_bundle
    from .compiler import compile_model
    from .session import find_manifest

    vs = resolve(vs)
    for peer in vs:
        ADAPTERS[peer].require()
    with tempfile.TemporaryDirectory(prefix="lne-bench-bundle-") as tmp:
        if path.is_dir():
            bundle = path
        else:
            log(f"compiling {path} for {target} ...")
            bundle = compile_model(path, Path(tmp) / "bundle", target)
            model = model or path
        m = find_manifest(bundle)
        board = None
        if remote:
            board = Remote(remote, ssh_options)
        elif m["target"] != "host":
            raise LNEError(f"{bundle} is built for {m['target']}: time it on the board with --remote user@board "
                           "(timings under qemu mean nothing)")
        if not (bundle / "build" / f"{m['name']}_example").is_file():
            log(f"building {bundle} ...")
            build_bundle(bundle)
        model = Path(model or m.get("source", ""))
        if vs and not model.is_file():
            raise LNEError(f"--vs needs the ONNX model; pass --model (the bundle records {str(model)!r})")
        rng = np.random.default_rng(0)
        feeds = {t["name"]: rng.standard_normal(t["shape"]).astype(np.float32) for t in m["inputs"]}
        macs = sum(n["macs"] for n in m["nodes"])
        result = {"bundle": str(bundle), "name": m["name"], "runs": runs, "threads": 1, "macs": macs,
                  "target": m["target"], "remote": remote,
                  "lne": _run_app(bundle, m, feeds, runs, warmup, per_layer, board)}
        result["lne"]["gflops"] = 2 * macs / (result["lne"]["median_ms"] * 1e6)
        from .models import NAMES  # a reference network's name lets LiteRT convert its PyTorch definition
        name = m["name"] if m["name"] in NAMES or model.stem not in NAMES else model.stem
        _time_peers(result, vs, model, name, feeds, runs, warmup, log)
    return result


def _time_peers(result: dict, vs, model: Path, name: str, feeds: dict, runs: int, warmup: int, log) -> None:
    """result[peer] = {median_ms, min_ms, max_ms, version, lne_ratio, max_abs_err, matches}, or
    {"skipped": why} for a peer that cannot take this model. Each peer's outputs are checked
    against onnxruntime's (when installed): a mismatch warns, it does not fail the bench."""
    reference = None
    if ADAPTERS["onnxruntime"].available():
        reference = ADAPTERS["onnxruntime"].prepare(model, name).run(feeds)
    shapes = {k: v.shape for k, v in feeds.items()}
    for peer in vs:
        try:
            runner = ADAPTERS[peer].prepare(model, name, shapes)
        except PeerSkipped as e:
            log(f"{peer} skipped: {e}")
            result[peer] = {"skipped": str(e)}
            continue
        r = result[peer] = runner.time(runs, warmup, feeds)
        r["lne_ratio"] = result["lne"]["median_ms"] / r["median_ms"]
        if reference is not None:
            checks = [matches(o, ref) for o, ref in zip(runner.run(feeds), reference)]
            r["matches"] = all(ok for ok, _ in checks) and len(checks) == len(reference)
            r["max_abs_err"] = max((err for _, err in checks), default=0.0)
            if not r["matches"]:
                log(f"warning: {peer}'s outputs differ from onnxruntime's (max abs err {r['max_abs_err']:.3g}): "
                    "its timing may not be for the same computation")


def describe(r: dict) -> str:
    lne = r["lne"]
    where = f" on {r['remote']}" if r.get("remote") else ""
    lines = [f"{r['name']} ({r['target']}{where}): {r['macs'] / 1e6:,.1f} MMACs, {r['runs']} runs, 1 thread",
             f"  lne          median {lne['median_ms']:.3f} ms  (min {lne['min_ms']:.3f}, max {lne['max_ms']:.3f}), "
             f"{lne['gflops']:.1f} GFLOP/s"]
    for peer in PEERS:
        if peer in r and "skipped" in r[peer]:
            lines.append(f"  {peer:12s} skipped: {r[peer]['skipped']}")
        elif peer in r:
            p = r[peer]
            lines.append(f"  {peer:12s} median {p['median_ms']:.3f} ms  (min {p['min_ms']:.3f}, max {p['max_ms']:.3f})"
                         f"  -> lne / {peer} = {p['lne_ratio']:.2f}")
    if "layers" in lne:
        lines.append("")
        lines.append(f"  {'#':>3s} {'ms':>9s} {'GFLOP/s':>8s}  {'op':18s} {'kernel':28s} layer")
        for i, layer in enumerate(lne["layers"]):
            gf = 2 * layer["macs"] / (layer["median_ms"] * 1e6) if layer["median_ms"] > 0 and layer["macs"] else 0
            lines.append(f"  {i:3d} {layer['median_ms']:9.4f} {gf:8.1f}  {layer['op']:18s} {layer['kernel']:28s} "
                         f"{layer['node'][:50]}")
    return "\n".join(lines)
