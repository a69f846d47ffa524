"""Deploy a trained model with LNE: compile for a target, validate against onnxruntime, benchmark.

For the ``host`` target the bundle is built, validated against onnxruntime on a random input and
on real clips (when the features input is wired), and timed beside onnxruntime
(``lne.benchmark.bench``, one thread each). Other targets are compiled only; their
report says validation and timing need the board (``lne validate`` / ``lne bench`` there).
A validation failure fails the step: no deployment artifact for a library that disagrees.

Written (``lne-bundle``): ``data/bundle/`` (the LNE bundle; its ``build/`` keeps only the
libraries and the example app, no CMake cache, so the folder can move), ``data/model.onnx``
and ``data/deploy.json``.
"""
from __future__ import annotations

import json
import shutil

import numpy as np

from lne.errors import LNEError

from ..params import Param
from ..tool import Input, Tool, register
from .common import BUNDLE, FEATURES, MODEL, open_h5


def _strip_build(build_dir) -> None:
    keep_suffix = (".a", ".so", "_example")
    for p in list(build_dir.iterdir()):
        if p.is_file() and p.name.endswith(keep_suffix):
            continue
        shutil.rmtree(p) if p.is_dir() else p.unlink()


@register
class DeployLne(Tool):
    name = "deploy-lne"
    version = "1"
    description = "compile a model with LNE for a target, validate against onnxruntime, benchmark on the host"
    inputs = {"model": Input(MODEL), "features": Input(FEATURES, optional=True, help="real clips to validate on")}
    output = BUNDLE
    params = {
        "target": Param("str", "host", "LNE target (see `lne targets`)"),
        "name": Param("str", "kws", "bundle name and C symbol prefix"),
        "validate_samples": Param("int", 8, "test clips compared with onnxruntime (needs features)", min=0),
        "rtol": Param("float", 1e-3, "validation relative tolerance", min=0),
        "atol": Param("float", 1e-4, "validation absolute tolerance", min=0),
        "bench_runs": Param("int", 200, "timed runs", min=1),
        "bench_warmup": Param("int", 20, "warm-up runs", min=0),
    }

    @classmethod
    def summary(cls, metrics: dict) -> str:
        b = metrics.get("benchmark") or {}
        if not b:
            return f"{metrics.get('target')}: compiled (not validated on this machine)"
        return (f"{metrics.get('target')}: validated, LNE {b['lne_median_ms']:.3f} ms vs onnxruntime "
                f"{b['ort_median_ms']:.3f} ms")

    def run(self, ctx) -> None:
        import lne
        from lne import targets
        from lne.benchmark import bench
        from lne.compiler import compile_model
        from lne.session import find_manifest
        from lne.validate import validate_model

        p = ctx.params
        targets.get(p["target"])           # LNEError naming the known targets
        onnx_path = ctx.out / "model.onnx"
        shutil.copyfile(ctx.inputs["model"].data / "model.onnx", onnx_path)
        host = p["target"] == "host"
        ctx.log(f"compiling for {p['target']}{' and building' if host else ''} ...")
        bundle = compile_model(onnx_path, ctx.out / "bundle", p["target"], name=p["name"], build=host)
        m = find_manifest(bundle)
        report = {"synthetic": ctx.synthetic, "target": p["target"], "name": m["name"],
                  "lne_version": lne.__version__, "arena_size": m["arena_size"], "weights_size": m["weights_size"],
                  "layers": len(m["nodes"]), "validation": None, "benchmark": None}
        if host:
            checks = [validate_model(onnx_path, bundle, {}, None, p["rtol"], p["atol"], seed=0)]
            if "features" in ctx.inputs and p["validate_samples"]:
                with open_h5(ctx.inputs["features"].data / "features.h5", "the features") as h5:
                    x = h5["test"]["mfcc"][:p["validate_samples"]]
                name = m["inputs"][0]["name"]
                checks += [validate_model(onnx_path, bundle, {name: x[i][None, None].astype(np.float32)}, None,
                                          p["rtol"], p["atol"]) for i in range(len(x))]
            worst = max((o["max_abs"] for c in checks for o in c["outputs"]), default=0.0)
            ok = all(c["ok"] for c in checks)
            report["validation"] = {"inputs": len(checks), "real_clips": len(checks) - 1, "max_abs_error": worst,
                                    "rtol": p["rtol"], "atol": p["atol"], "ok": ok}
            ctx.log(f"validation against onnxruntime on {len(checks)} inputs: max abs error {worst:.3g} "
                    f"-> {'ok' if ok else 'MISMATCH'}")
            if not ok:
                raise LNEError(f"step {ctx.step!r}: the compiled model disagrees with onnxruntime "
                               f"(max abs error {worst:.3g} > atol {p['atol']} + rtol {p['rtol']} x |ref|)")
            r = bench(bundle, "host", p["bench_runs"], p["bench_warmup"], vs=("onnxruntime",), model=onnx_path)
            b = {"runs": p["bench_runs"], "threads": 1, "macs": r.get("macs"),
                 "lne_median_ms": r["lne"]["median_ms"], "ort_median_ms": r["onnxruntime"]["median_ms"],
                 "onnxruntime_version": r["onnxruntime"].get("version")}
            b["speedup_vs_onnxruntime"] = b["ort_median_ms"] / b["lne_median_ms"]
            report["benchmark"] = b
            ctx.log(f"host latency: LNE {b['lne_median_ms']:.3f} ms, onnxruntime {b['ort_median_ms']:.3f} ms "
                    f"(median of {p['bench_runs']}, 1 thread)")
            _strip_build(bundle / "build")
        else:
            report["note"] = (f"compiled for {p['target']}; validate and time it on the board "
                              "(lne validate / lne bench)")
        (ctx.out / "deploy.json").write_text(json.dumps(report, indent=1) + "\n")
        ctx.metrics.update(report)
