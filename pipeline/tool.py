"""Tools: one job each, with declared inputs, output format and typed parameters.

    class Mfcc(Tool):
        name = "mfcc"
        version = "1"
        description = "MFCC features (librosa) of every clip of an audio dataset"
        inputs = {"dataset": Input("kws-audio-dataset")}
        output = "kws-mfcc-features"
        params = {"n_mfcc": Param("int", 40, "coefficients per frame", min=1)}

        def run(self, ctx: Context) -> None:
            ...  # read ctx.inputs["dataset"].data, write into ctx.out, fill ctx.metrics

Tools run in-process. Heavy imports (torch, librosa, h5py) belong inside ``run`` so that
listing tools, checking a workflow and skipping cached steps stay fast.
A workflow names a tool by its registered name, or by ``package.module:ClassName``.
"""
from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lne.errors import LNEError

from .artifact import Artifact
from .params import Param


@dataclass(frozen=True)
class Input:
    """An input slot: the artifact formats it accepts; optional slots may be left unwired."""
    formats: tuple[str, ...] | str
    optional: bool = False
    help: str = ""

    @property
    def accepts(self) -> tuple[str, ...]:
        return (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)


class Tool:
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    inputs: ClassVar[dict[str, Input]] = {}
    output: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    synthetic: ClassVar[bool] = False   # a tool that makes synthetic data labels its artifact so

    def run(self, ctx: "Context") -> None:
        raise NotImplementedError

    @classmethod
    def summary(cls, metrics: dict) -> str:
        """One line of headline metrics for `lne pipeline run`'s summary."""
        return ""


@dataclass
class Context:
    """What a running tool sees.

    ``out`` is the (temporary) data folder to fill; ``scratch`` survives a crash of this step
    with the same cache key (put checkpoints there) and is deleted once the step succeeds."""
    step: str
    tool: Tool
    params: dict[str, Any]
    inputs: dict[str, Artifact]
    out: Path
    scratch: Path
    log_file: Any
    metrics: dict = field(default_factory=dict)
    quiet: bool = False

    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        self.log_file.write(line + "\n")
        self.log_file.flush()
        if not self.quiet:
            print(f"  {self.step}: {msg}", file=sys.stderr, flush=True)

    def progress(self, iterable=None, total: int | None = None, desc: str = "", unit: str = "it"):
        """A progress bar on stderr (only when stderr is a terminal)."""
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=f"  {self.step}: {desc}" if desc else f"  {self.step}",
                    unit=unit, file=sys.stderr, disable=True if self.quiet else None, leave=False,
                    dynamic_ncols=True)

    @property
    def synthetic(self) -> bool:
        return self.tool.synthetic or any(a.synthetic for a in self.inputs.values())


_REGISTRY: dict[str, type[Tool]] = {}
_BUILTINS_LOADED = False
# modules whose import registers the built-in tools (imported one by one, not through the
# package __init__, so a stale editable install that sees lne.pipeline.kws as a namespace works)
BUILTIN_MODULES = tuple(f"lne.pipeline.kws.{m}" for m in ("synth", "ingest", "features", "train", "accuracy",
                                                            "deploy"))


def register(cls: type[Tool]) -> type[Tool]:
    """Class decorator: make a tool available to workflows under ``cls.name``."""
    if not cls.name or not cls.output:
        raise TypeError(f"{cls.__name__}: a tool needs a name and an output format")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"tool name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        for m in BUILTIN_MODULES:
            importlib.import_module(m)


def all_tools() -> dict[str, type[Tool]]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get_tool(ref: str) -> type[Tool]:
    """A tool by registered name or ``package.module:ClassName``; LNEError if unknown."""
    _load_builtins()
    if ref in _REGISTRY:
        return _REGISTRY[ref]
    if ":" in ref:
        mod, _, attr = ref.partition(":")
        try:
            cls = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise LNEError(f"cannot import tool {ref!r}: {e}") from None
        if not (isinstance(cls, type) and issubclass(cls, Tool)):
            raise LNEError(f"{ref!r} is not a pipeline Tool class")
        return cls
    raise LNEError(f"unknown tool {ref!r}; tools are: {', '.join(_REGISTRY)}")

