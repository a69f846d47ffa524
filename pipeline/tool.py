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
import inspect
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lne.errors import LNEError
from lne.limits import plain, show

from .artifact import Artifact
from .params import Param, brief


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


_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ATTR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_allowed_packages(allowed_packages) -> tuple[str, ...] | None:
    """``allowed_packages`` as a tuple of dotted package names (None: any module may be imported)."""
    if allowed_packages is None:
        return None
    if isinstance(allowed_packages, str):
        allowed_packages = (allowed_packages,)
    out = tuple(allowed_packages)
    for p in out:
        if not isinstance(p, str) or not _MODULE.fullmatch(p):
            raise LNEError(f"allowed package {show(p)}: expected a dotted package name such as 'mytools'")
    return out


def _in_packages(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def check_tool_class(cls, ref: str = "") -> type[Tool]:
    """``cls`` if it is a usable Tool class (a concrete subclass with a name, an output format
    and well-formed inputs and parameters), else an LNEError that says what is wrong."""
    what = f"tool {show(ref)}" if ref else "tool"
    if not (isinstance(cls, type) and issubclass(cls, Tool)):
        kind = "a class" if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise LNEError(f"{what} is {kind}, not a pipeline Tool class (a subclass of lne.pipeline.Tool)")
    if cls is Tool or cls.run is Tool.run or inspect.isabstract(cls):
        raise LNEError(f"{what} is abstract (it does not implement run()); name a concrete Tool subclass")
    for attr in ("name", "output", "version"):
        v = getattr(cls, attr, None)
        if not isinstance(v, str) or not v:
            raise LNEError(f"{what}: its {attr!r} must be a non-empty string, got {brief(v)}")
    if not isinstance(cls.inputs, dict) or not all(isinstance(k, str) and isinstance(v, Input)
                                                   for k, v in cls.inputs.items()):
        raise LNEError(f"{what}: its 'inputs' must map slot names to Input(...)")
    if not all(isinstance(i.formats, (str, tuple, list)) and all(isinstance(f, str) for f in i.accepts)
               for i in cls.inputs.values()):
        raise LNEError(f"{what}: an input accepts formats that are not strings")
    if not isinstance(cls.params, dict) or not all(isinstance(k, str) and isinstance(v, Param)
                                                   for k, v in cls.params.items()):
        raise LNEError(f"{what}: its 'params' must map parameter names to Param(...)")
    return cls


def get_tool(ref: str, allowed_packages: tuple[str, ...] | None = None) -> type[Tool]:
    """A tool by registered name or ``package.module:ClassName``; LNEError if unknown.

    ``allowed_packages=None`` (a trusted, local workflow) imports any module a reference names.
    A tuple (a workflow from elsewhere, e.g. the HTTP service) allows only the registered tools
    and modules inside those packages; the name is checked before anything is imported, so a
    module outside them never runs. ``()`` allows the registered tools only."""
    _load_builtins()
    if not isinstance(ref, str) or not ref:
        raise LNEError(f"a tool is named by a non-empty string, got {brief(ref)}")
    if ref in _REGISTRY:
        return _REGISTRY[ref]
    if ":" not in ref:
        raise LNEError(f"unknown tool {show(ref)}; tools are: {', '.join(_REGISTRY)}")
    mod, _, attr = ref.partition(":")
    if not _MODULE.fullmatch(mod) or not _ATTR.fullmatch(attr):
        raise LNEError(f"tool {show(ref)}: expected a registered tool name or package.module:ClassName")
    packages = check_allowed_packages(allowed_packages)
    if packages is not None and not _in_packages(mod, packages):
        allowed = ", ".join(packages) if packages else "none"
        raise LNEError(f"tool {show(ref)}: module {show(mod)} is not in an allowed package (allowed: {allowed}); "
                       f"registered tools are: {', '.join(_REGISTRY)}")
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as e:
        missing = e.name or mod
        extra = "" if missing == mod else f" (needed by {show(mod)})"
        raise LNEError(f"cannot import tool {show(ref)}: no module named {show(missing)}{extra}") from None
    except (Exception, SystemExit) as e:  # a module's import-time code can raise anything
        raise LNEError(f"cannot import tool {show(ref)}: importing module {show(mod)} failed: "
                       f"{type(e).__name__}: {plain(str(e), 200)}") from None
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise LNEError(f"cannot import tool {show(ref)}: module {show(mod)} has no attribute {show(attr)}") from None
    except Exception as e:  # a module __getattr__ that fails
        raise LNEError(f"cannot import tool {show(ref)}: {type(e).__name__}: {plain(str(e), 200)}") from None
    return check_tool_class(cls, ref)
