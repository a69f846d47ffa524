"""Train a KWS CNN / DS-CNN on MFCC features (PyTorch), the paper's recipe (section 5.1).

Cross-entropy (multinomial logistic) loss, Adam, batch 100, learning rate 5e-3 multiplied by 0.3
every 10K iterations, 40K iterations: all parameters. Batches are drawn from seeded per-epoch
permutations. Every ``validate_every`` iterations the model is scored on the validation
partition and the best one (accuracy, then loss) is kept; every ``checkpoint_every``
iterations model, optimiser, schedule, sampler state and best model go to a checkpoint in the
step's scratch folder, so a killed run resumes where it stopped.

Written (``kws-model``): ``data/model.pt`` (architecture + best weights), ``data/model.onnx``,
``data/architecture.json``, ``data/curve.csv`` (iteration, lr, train loss/accuracy, validation
loss/accuracy).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from lne.errors import LNEError

from ..params import Param
from ..tool import Input, Tool, register
from .common import FEATURES, MODEL, classes_of, need, open_h5
from .nets import TABLES, architecture, build, count_macs, export_onnx


class Sampler:
    """Batches of indices from seeded per-epoch permutations; its state fits in a checkpoint."""

    def __init__(self, n: int, seed: int):
        self.n, self.rng = n, np.random.default_rng(seed)
        self.perm, self.pos = self.rng.permutation(n), 0

    def next(self, batch: int) -> np.ndarray:
        out = []
        while batch > 0:
            if self.pos == self.n:
                self.perm, self.pos = self.rng.permutation(self.n), 0
            take = min(batch, self.n - self.pos)
            out.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            batch -= take
        return np.concatenate(out)

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "perm": self.perm.tolist(), "pos": self.pos}

    def load(self, s: dict) -> None:
        self.rng.bit_generator.state = s["rng"]
        self.perm, self.pos = np.array(s["perm"], np.int64), int(s["pos"])


def _load(path, part):
    with open_h5(path, "the features") as h5:
        g = h5[part]
        return g["mfcc"][()], g["label"][()]


def _evaluate(model, x, y, batch=500):
    import torch
    import torch.nn.functional as F

    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            loss += float(F.cross_entropy(out, y[i:i + batch], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / max(1, len(x)), loss / max(1, len(x))


@register
class TrainKws(Tool):
    name = "train-kws"
    version = "1"
    description = "train a KWS CNN / DS-CNN (paper tables or a user table) with Adam; best-on-validation, ONNX"
    inputs = {"features": Input(FEATURES)}
    output = MODEL
    params = {
        "architecture": Param("str", "kws9", "a paper table or 'custom'", choices=TABLES + ("custom",)),
        "layers": Param("layer_table", None, "custom: [[k_h, k_w, M], ...] per conv layer"),
        "depthwise": Param("bool", False, "custom: depthwise-separable layers after conv1"),
        "iterations": Param("int", 40000, "training iterations (batches)", min=1),
        "batch_size": Param("int", 100, "samples per batch", min=1),
        "learning_rate": Param("float", 5e-3, "initial Adam learning rate", min=0),
        "lr_decay": Param("float", 0.3, "learning-rate factor every lr_step iterations", min=0),
        "lr_step": Param("int", 10000, "iterations between learning-rate drops", min=1),
        "weight_decay": Param("float", 0.0, "Adam weight decay", min=0),
        "normalize": Param("bool", True, "normalise each MFCC coefficient with training-set mean/std"),
        "validate_every": Param("int", 1000, "iterations between validation scores", min=1),
        "checkpoint_every": Param("int", 1000, "iterations between checkpoints", min=1, key=False),
        "seed": Param("int", 0, "weights and batch order seed"),
        "threads": Param("int", 0, "torch CPU threads (0: half the CPUs, at least 1)", min=0, key=False),
    }

    @classmethod
    def summary(cls, metrics: dict) -> str:
        best = 100 * metrics.get("best_validation_accuracy", 0)
        return f"{metrics.get('architecture')}: best validation {best:.1f}% at iteration {metrics.get('best_iteration')}"

    def run(self, ctx) -> None:
        torch = need("torch", "the training tool")
        import torch.nn.functional as F

        p = ctx.params
        # torch's default (every core) is badly slowed down by anything else running on a small
        # machine (its OpenMP threads wait on each other); half the CPUs degrades gracefully
        torch.set_num_threads(p["threads"] or max(1, (os.cpu_count() or 2) // 2))
        path = ctx.inputs["features"].data / "features.h5"
        xtr, ytr = _load(path, "train")
        xva, yva = _load(path, "validation")
        with open_h5(path, "the features") as h5:
            classes = classes_of(h5)
        if len(xtr) == 0:
            raise LNEError(f"step {ctx.step!r}: the training partition is empty")
        shape = [1, 1, *xtr.shape[1:]]
        arch = architecture(p["architecture"], p["layers"], p["depthwise"], len(classes), shape)
        arch["classes_names"] = classes
        if p["normalize"]:
            arch["mean"] = xtr.mean(axis=(0, 2)).astype(float).tolist()
            arch["std"] = np.maximum(xtr.std(axis=(0, 2)), 1e-3).astype(float).tolist()
        torch.manual_seed(p["seed"])
        model = build(arch)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=p["lr_step"], gamma=p["lr_decay"])
        sampler = Sampler(len(xtr), p["seed"])
        xtr_t, ytr_t = torch.from_numpy(xtr).unsqueeze(1), torch.from_numpy(ytr).long()
        xva_t, yva_t = torch.from_numpy(xva).unsqueeze(1), torch.from_numpy(yva).long()
        best = {"score": None, "state": None, "iteration": 0, "accuracy": 0.0, "loss": None}
        curve, start = [], 0

        ckpt = ctx.scratch / "checkpoint.pt"
        if ckpt.is_file():
            c = torch.load(ckpt, weights_only=False)
            model.load_state_dict(c["model"])
            opt.load_state_dict(c["optimizer"])
            sched.load_state_dict(c["scheduler"])
            sampler.load(c["sampler"])
            best, curve, start = c["best"], c["curve"], c["iteration"]
            ctx.log(f"resumed from checkpoint at iteration {start}")
        ctx.metrics["resumed_from"] = start

        ctx.log(f"{arch['name']} ({'DS-CNN' if arch['depthwise'] else 'CNN'} {arch['layers']}), "
                f"{len(xtr)} training / {len(xva)} validation clips, iterations {start}..{p['iterations']}")
        t0, run_loss, run_correct, run_n = time.perf_counter(), 0.0, 0, 0
        bar = ctx.progress(total=p["iterations"], desc="training", unit="it")
        bar.update(start)
        for it in range(start, p["iterations"]):
            idx = torch.from_numpy(sampler.next(p["batch_size"]))
            xb, yb = xtr_t[idx], ytr_t[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run_loss += float(loss.detach()) * len(yb)
            run_correct += int((out.argmax(1) == yb).sum())
            run_n += len(yb)
            bar.update(1)
            done = it + 1
            if done % p["validate_every"] == 0 or done == p["iterations"]:
                va_acc, va_loss = _evaluate(model, xva_t, yva_t) if len(xva) else (float("nan"), float("nan"))
                row = {"iteration": done, "lr": opt.param_groups[0]["lr"], "train_loss": run_loss / run_n,
                       "train_accuracy": run_correct / run_n, "validation_loss": va_loss,
                       "validation_accuracy": va_acc}
                curve.append(row)
                run_loss, run_correct, run_n = 0.0, 0, 0
                score = (va_acc, -va_loss) if len(xva) else (done, 0)
                if best["score"] is None or score > tuple(best["score"]):
                    best = {"score": list(score), "state": {k: v.clone() for k, v in model.state_dict().items()},
                            "iteration": done, "accuracy": va_acc, "loss": va_loss}
                ctx.log(f"iteration {done}: lr {row['lr']:.2e}, train loss {row['train_loss']:.4f} "
                        f"acc {100 * row['train_accuracy']:.1f}%, validation loss {va_loss:.4f} "
                        f"acc {100 * va_acc:.1f}%")
            if done % p["checkpoint_every"] == 0 and done < p["iterations"]:
                tmp = ckpt.with_suffix(".tmp")
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "sampler": sampler.state(), "best": best,
                            "curve": curve, "iteration": done}, tmp)
                os.replace(tmp, ckpt)
        bar.close()
        train_s = time.perf_counter() - t0

        model.load_state_dict(best["state"])
        model.eval()
        torch.save({"architecture": arch, "state_dict": model.state_dict()}, ctx.out / "model.pt")
        export_onnx(model, shape, ctx.out / "model.onnx")
        (ctx.out / "architecture.json").write_text(json.dumps(arch, indent=1) + "\n")
        with open(ctx.out / "curve.csv", "w") as f:
            f.write("iteration,lr,train_loss,train_accuracy,validation_loss,validation_accuracy\n")
            for r in curve:
                f.write(",".join(f"{r[k]:.6g}" for k in ("iteration", "lr", "train_loss", "train_accuracy",
                                                          "validation_loss", "validation_accuracy")) + "\n")
        macs = count_macs(model, shape)
        n_params = sum(int(t.numel()) for t in model.parameters())
        ctx.metrics.update({
            "synthetic": ctx.synthetic, "architecture": arch["name"], "layers": arch["layers"],
            "depthwise": arch["depthwise"], "iterations": p["iterations"], "iterations_run": p["iterations"] - start,
            "best_iteration": best["iteration"], "best_validation_accuracy": best["accuracy"],
            "final_train_loss": curve[-1]["train_loss"] if curve else None,
            "parameters": n_params, "macs": macs, "mflops": 2 * macs / 1e6,
            "onnx_bytes": (ctx.out / "model.onnx").stat().st_size, "train_seconds": round(train_s, 2),
            "seconds_per_iteration": round(train_s / max(1, p["iterations"] - start), 5)})
        ctx.log(f"best validation accuracy {100 * best['accuracy']:.2f}% at iteration {best['iteration']}; "
                f"{train_s:.1f} s; {2 * macs / 1e6:.2f} MFLOPs, {n_params} parameters")
