"""Test-only tools (registered under test-* names) and data builders for the pipeline tests."""
from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np

from lne.errors import LNEError
from lne.pipeline import Input, Param, Tool, register

CALLS: list[str] = []   # steps that actually ran in this process (in order)


@register
class Numbers(Tool):
    name = "test-numbers"
    version = "1"
    description = "writes count numbers starting at start"
    output = "test-numbers"
    params = {"start": Param("int", 0), "count": Param("int", 3, min=0), "note": Param("str", "", key=False)}

    def run(self, ctx):
        CALLS.append(ctx.step)
        (ctx.out / "numbers.json").write_text(json.dumps(list(range(ctx.params["start"],
                                                                   ctx.params["start"] + ctx.params["count"]))))
        ctx.metrics["count"] = ctx.params["count"]


@register
class Scale(Tool):
    name = "test-scale"
    version = "1"
    description = "multiplies numbers (clipped to max)"
    inputs = {"numbers": Input("test-numbers")}
    output = "test-numbers"
    params = {"factor": Param("int", 2), "max": Param("int", 10 ** 9)}

    def run(self, ctx):
        CALLS.append(ctx.step)
        xs = json.loads((ctx.inputs["numbers"].data / "numbers.json").read_text())
        (ctx.out / "numbers.json").write_text(json.dumps([min(x * ctx.params["factor"], ctx.params["max"])
                                                          for x in xs]))


@register
class Total(Tool):
    name = "test-total"
    version = "1"
    description = "sums numbers; needs a label"
    inputs = {"numbers": Input("test-numbers"), "extra": Input("test-numbers", optional=True)}
    output = "test-total"
    params = {"label": Param("str")}

    def run(self, ctx):
        CALLS.append(ctx.step)
        total = sum(sum(json.loads((a.data / "numbers.json").read_text())) for a in ctx.inputs.values())
        (ctx.out / "total.json").write_text(json.dumps({"label": ctx.params["label"], "total": total}))


@register
class Explode(Tool):
    name = "test-explode"
    version = "1"
    description = "writes half its output, then fails"
    inputs = {"numbers": Input("test-numbers")}
    output = "test-numbers"

    def run(self, ctx):
        CALLS.append(ctx.step)
        (ctx.out / "numbers.json").write_text("[1, 2")
        raise LNEError("test-explode: failing on purpose")


class RandomFeatures(Tool):
    """kws-mfcc-features of 12 separable classes (class pattern + noise): training-tool tests
    without audio. Referenced as tests.pipeline.helpers:RandomFeatures."""
    name = "test-random-features"
    version = "1"
    output = "kws-mfcc-features"
    params = {"n": Param("int", 600, min=12), "seed": Param("int", 0)}

    def run(self, ctx):
        import h5py

        rng = np.random.default_rng(ctx.params["seed"])
        patterns = rng.standard_normal((12, 40, 32)).astype(np.float32)
        with h5py.File(ctx.out / "features.h5", "w") as h5:
            for part, n in (("train", ctx.params["n"]), ("validation", 120), ("test", 120)):
                y = np.arange(n) % 12
                x = patterns[y] * 3 + rng.standard_normal((n, 40, 32)).astype(np.float32) * 2 - 50
                g = h5.create_group(part)
                g["mfcc"] = x.astype(np.float32)
                g["label"] = y.astype(np.int64)
                g.create_dataset("sample_id", data=[f"{part}/{i}" for i in range(n)], dtype=h5py.string_dtype())
            h5.attrs["classes"] = [f"c{i}" for i in range(12)]
            h5.attrs["source"] = "random test features"


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())
