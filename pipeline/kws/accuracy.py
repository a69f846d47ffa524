"""Accuracy benchmark: a trained model (and optionally its LNE-compiled library) on a partition.

Both engines go through one code path, :func:`evaluate`: an *engine* is anything with
``predict(x) -> logits`` for a batch ``x`` of shape (B, 1, 40, 32); the PyTorch engine runs the
batch at once, the LNE engine runs the compiled bundle (``lne.InferenceSession``, batch 1) clip
by clip. Written (``kws-accuracy-report``): ``data/report.json`` with, per engine, top-1,
per-class accuracy and the confusion matrix (rows: truth, columns: prediction), plus sample
count, model size, MACs / MFLOPs and, with a bundle, the difference between the engines.
"""
from __future__ import annotations

import json

import numpy as np

from ..params import Param
from ..tool import Input, Tool, register
from .common import BUNDLE, FEATURES, MODEL, PARTITIONS, REPORT, classes_of, need, open_h5


class TorchEngine:
    name = "pytorch"

    def __init__(self, model_dir):
        torch = need("torch", "the accuracy tool")
        from .nets import build

        saved = torch.load(model_dir / "model.pt", weights_only=False)
        self.architecture = saved["architecture"]
        self.model = build(self.architecture)
        self.model.load_state_dict(saved["state_dict"])
        self.model.eval()
        self._torch = torch

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            return self.model(self._torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


class LneEngine:
    name = "lne"

    def __init__(self, bundle_dir):
        import lne

        self.sess = lne.InferenceSession(bundle_dir, build=False)
        self.input = self.sess.get_inputs()[0].name

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        return np.concatenate([self.sess.run(None, {self.input: x[i:i + 1]})[0] for i in range(len(x))])


def evaluate(engine, x: np.ndarray, y: np.ndarray, classes: list[str], batch: int = 256,
             progress=lambda it, total: it) -> dict:
    """Top-1, per-class accuracy and confusion matrix of ``engine`` on (x, y)."""
    preds = []
    for i in progress(range(0, len(x), batch), (len(x) + batch - 1) // batch):
        preds.append(np.asarray(engine.predict(x[i:i + batch])).argmax(axis=1))
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    k = len(classes)
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (y, pred), 1)
    support = conf.sum(axis=1)
    per_class = {c: (float(conf[i, i] / support[i]) if support[i] else None) for i, c in enumerate(classes)}
    return {"top1": float(np.trace(conf) / max(1, len(y))), "correct": int(np.trace(conf)), "samples": int(len(y)),
            "per_class": per_class, "support": {c: int(s) for c, s in zip(classes, support)},
            "confusion": conf.tolist(), "predictions": pred}


@register
class AccuracyKws(Tool):
    name = "accuracy-kws"
    version = "1"
    description = "top-1 / per-class accuracy and confusion of a KWS model (PyTorch and the LNE bundle)"
    inputs = {"features": Input(FEATURES), "model": Input(MODEL),
              "bundle": Input(BUNDLE, optional=True, help="the model compiled by LNE (host target)")}
    output = REPORT
    params = {"partition": Param("str", "test", "partition to score", choices=PARTITIONS),
              "batch_size": Param("int", 256, "clips per engine call", min=1, key=False)}

    @classmethod
    def summary(cls, metrics: dict) -> str:
        return ", ".join(f"top-1 {k} {100 * v:.2f}%" for k, v in metrics.get("top1", {}).items()) + \
            f" on {metrics.get('samples')} {'SYNTHETIC ' if metrics.get('synthetic') else ''}clips"

    def run(self, ctx) -> None:
        p = ctx.params
        with open_h5(ctx.inputs["features"].data / "features.h5", "the features") as h5:
            classes = classes_of(h5)
            x = h5[p["partition"]]["mfcc"][()][:, None]
            y = h5[p["partition"]]["label"][()]
            source = str(h5.attrs["source"])
        model_dir = ctx.inputs["model"].data
        engines = [TorchEngine(model_dir)]
        if "bundle" in ctx.inputs:
            from lne.session import find_manifest

            bundle = ctx.inputs["bundle"].data / "bundle"
            target = find_manifest(bundle).get("target")
            if target == "host":
                engines.append(LneEngine(bundle))
            else:
                ctx.log(f"the LNE bundle is compiled for {target!r}, not this host: scoring PyTorch only")
        results = {}
        for e in engines:
            r = evaluate(e, x, y, classes, p["batch_size"],
                         lambda it, total, n=e.name: ctx.progress(it, total=total, desc=f"{n} inference"))
            results[e.name] = r
            ctx.log(f"{e.name}: top-1 {100 * r['top1']:.2f}% ({r['correct']}/{r['samples']})")
        train_metrics = ctx.inputs["model"].metrics
        report = {
            "synthetic": ctx.synthetic, "dataset": source, "partition": p["partition"], "samples": int(len(y)),
            "classes": classes, "architecture": engines[0].architecture["name"],
            "model_size_bytes": (model_dir / "model.onnx").stat().st_size,
            "parameters": train_metrics.get("parameters"), "macs": train_metrics.get("macs"),
            "mflops": train_metrics.get("mflops"),
            "engines": {k: {kk: vv for kk, vv in v.items() if kk != "predictions"} for k, v in results.items()},
        }
        if "lne" in results:
            a, b = results["pytorch"], results["lne"]
            report["lne_vs_pytorch"] = {
                "top1_difference_points": 100 * (b["top1"] - a["top1"]),
                "prediction_agreement": float(np.mean(a["predictions"] == b["predictions"])) if len(y) else 1.0}
            ctx.log(f"LNE vs PyTorch: {report['lne_vs_pytorch']['top1_difference_points']:+.3f} points, "
                    f"{100 * report['lne_vs_pytorch']['prediction_agreement']:.2f}% same predictions")
        (ctx.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        ctx.metrics.update({"synthetic": ctx.synthetic, "samples": int(len(y)),
                            "top1": {k: v["top1"] for k, v in results.items()},
                            **({"lne_vs_pytorch": report["lne_vs_pytorch"]} if "lne" in results else {})})
