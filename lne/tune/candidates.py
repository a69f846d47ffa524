"""Candidates of `lne tune`: the layers of a model as the compiler will run them, and for every
layer the kernels that apply to it on the target (own kernels, each ISA the target has, and the
acceleration-library plugins enabled), each with its library and data layout.

The layers are the graph's nodes after every pass that precedes `select_kernels` (folding,
fusion, layouts with their Reorder nodes, Gemm weight pre-transposition), so their names are the
ones a plan uses and the ones `lne compile --plan` checks.

Library of a kernel (the unit of the "every layer on library X" baselines):

* the plugin's name when the kernel comes from one (``openblas``);
* the ISA when it is written for one (``neon``);
* ``winograd`` for the Winograd convolutions (any tile size);
* ``ref`` for the portable reference kernels (``*_ref``) and the zero-cost views;
* ``lne`` for the other portable optimised kernels (im2col + packed GEMM, blocked GEMM, direct
  depthwise, fast pooling, the NCHW8c kernels and Reorder).

A single-library configuration runs each layer on that library's fastest measured kernel for
it, and on the default heuristic's kernel where the library has none (as LPDNN falls back). The
default heuristic is what `lne compile` picks without plugins (the highest-priority core kernel).

Layout of a candidate: the layout it leaves its output in (``KernelDef.layout``, or the output
tensor's layout for kernels that take either). Today the layout pass fixes every tensor's layout
before kernel selection and inserts explicit Reorder nodes, which are layers measured like the
others, so the search's conversion costs are 0; the state keeps the layout so that kernels that
choose their own layout plug in.
"""
from __future__ import annotations

import ctypes.util
import functools
import glob
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .. import kernels, targets
from ..compiler import load_model
from ..errors import LNEError

DEFAULT_LAYOUT = "nchw"


@dataclass(frozen=True)
class Layer:
    name: str                    # node name (what a plan keys on)
    op: str
    signature: str               # op + attributes + shapes: the measurement cache key
    digests: tuple[str, ...]     # per candidate: hash of its code (cache key too)
    kernels: tuple[str, ...]     # candidate kernel names, in registry order
    libraries: tuple[str, ...]   # library of each candidate
    layouts: tuple[str, ...]     # data layout of each candidate
    default: str                 # the default heuristic's choice (`lne compile` without plugins)


def library(k) -> str:
    """The library a KernelDef belongs to (see the module docstring)."""
    if k.plugin:
        return k.plugin
    if k.isa != "generic":
        return k.isa
    if k.variant.startswith("winograd"):
        return "winograd"
    if k.variant in ("ref", "view") or k.variant.startswith("ref"):
        return "ref"
    return "lne"


def layout(k, node=None, g=None) -> str:
    """The data layout a candidate leaves its output in: the kernel's own when it declares a
    concrete one, else (elementwise "any", converting "mixed") the layout the layout pass gave
    the node's output tensor."""
    lay = getattr(k, "layout", None) or DEFAULT_LAYOUT
    if lay in ("any", "mixed"):
        lay = getattr(g.tensors[node.outputs[0]], "layout", None) if g is not None else None
    return lay or DEFAULT_LAYOUT


def kernel_digest(k) -> str:
    """Short hash of the runtime header implementing k (and the headers it includes), so cached
    times of a kernel whose code changed are not reused."""
    return _digest(k.name, k.header)


@functools.lru_cache(maxsize=None)
def _digest(name: str, header) -> str:
    import re

    from ..resources import runtime_dir

    h, todo, seen, root = hashlib.sha256(name.encode()), [header] if header else [], set(), runtime_dir()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        for cand in (root / rel, root / "include" / rel):
            if cand.is_file():
                text = cand.read_bytes()
                h.update(rel.encode() + b"\0" + text)
                todo += re.findall(r'#include\s+"([^"]+)"', text.decode("utf-8", "replace"))
                break
    return h.hexdigest()[:12]


def fingerprint(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _have_openblas() -> bool:
    headers = glob.glob("/usr/include/cblas.h") + glob.glob("/usr/include/*/cblas.h") + \
        glob.glob("/usr/include/openblas/cblas.h") + glob.glob("/usr/local/include/cblas.h")
    return bool(headers) and ctypes.util.find_library("openblas") is not None


_PROBES = {"openblas": _have_openblas}


def available_plugins(target: str) -> tuple[str, ...]:
    """Plugins whose library is installed here (host builds only: a board's libraries cannot be
    probed from here, so a board gets the plugins named with --plugin)."""
    if targets.get(target).cross:
        return ()
    return tuple(name for name, probe in _PROBES.items() if probe())


def options_for(target: str, plugins=()) -> dict:
    """Kernel-selection options as compile_model builds them (plugins registered)."""
    from ..plugins import get as get_plugin

    for p in plugins:
        get_plugin(p)
    return {"isa": targets.get(target).isa, "plugins": tuple(plugins)}


def prepared_graph(model, target: str = "host", plugins=(), input_shapes=None, weights=None):
    """The graph after the passes that precede kernel selection, and the selection options."""
    from ..passes import PIPELINE
    from ..passes.select import pretranspose_weights

    options = options_for(target, plugins)
    g = load_model(model, weights, input_shapes)
    names = [n for n, _ in PIPELINE]
    if "select_kernels" not in names:
        raise LNEError("this LNE has no select_kernels pass; lne tune cannot run")
    for name, fn in PIPELINE[:names.index("select_kernels")]:
        fn(g, {**options, "kernels": {}})
        g.verify()
    pretranspose_weights(g)
    return g, options


def signature(node, g) -> str:
    """What a kernel's time depends on: op, attributes, operand shapes, dtypes, layouts, constness."""
    def shape(name):
        if not name:
            return None
        t = g.tensors[name]
        return [list(t.shape), str(t.dtype), getattr(t, "layout", DEFAULT_LAYOUT), g.const(name) is not None]

    attrs = {k: v for k, v in node.attrs.items() if k != "packed"}
    return json.dumps({"op": node.op, "attrs": attrs, "in": [shape(i) for i in node.inputs],
                       "out": [shape(o) for o in node.outputs]}, sort_keys=True, default=str)


def layers_of(g, options) -> list[Layer]:
    from ..passes.select import candidates

    out = []
    for node in g.nodes:
        cands = candidates(node, g, options)
        if not cands:
            raise LNEError(f"node {node.name!r} ({node.op}): no kernel implements this configuration")
        core = [k for k in cands if k.plugin is None] or cands
        default = max(core, key=lambda k: k.priority)  # what `lne compile` picks without --plugin
        out.append(Layer(node.name, node.op, signature(node, g), tuple(kernel_digest(k) for k in cands),
                         tuple(k.name for k in cands),
                         tuple(library(k) for k in cands), tuple(layout(k, node, g) for k in cands), default.name))
    return out


def model_layers(model, target: str = "host", plugins=(), input_shapes=None, weights=None) -> list[Layer]:
    """The layers of `model` on `target`, with their candidates."""
    g, options = prepared_graph(model, target, plugins, input_shapes, weights)
    return layers_of(g, options)


def kernel_def(layer: Layer, name: str):
    return kernels.get(layer.op, name)


def check_model_file(model) -> Path:
    from ..limits import check_regular

    return check_regular(model, "the model")
