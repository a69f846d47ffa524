"""plan.json: the kernel `lne tune` chose for every node, with predicted and measured times;
read back (and checked against the model) by `lne compile --plan`.

    {"format": "lne-plan", "version": 1, "model": "...", "fingerprint": "sha256:...",
     "target": "host", "remote": null, "plugins": ["openblas"], "input_shapes": {...},
     "nodes": [{"name": ..., "op": ..., "kernel": ..., "library": ..., "predicted_ms": ...}, ...],
     "predicted_ms": ..., "measured_ms": {"plan": ..., "default": ..., ...}, "search": {...}}
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import LNEError
from ..limits import plain, show

FORMAT, VERSION = "lne-plan", 1


def is_plan(path) -> bool:
    """Whether ``path`` holds a plan LNE wrote (it parses as JSON with "format": "lne-plan")."""
    from ..outputs import json_is_ours

    return json_is_ours(path, lambda d: isinstance(d, dict) and d.get("format") == FORMAT)


def write_plan(path, doc: dict, force: bool = False) -> Path:
    """Write the plan atomically (lne.outputs): an existing file is replaced only if it is a
    plan (or with force)."""
    from ..outputs import output_file

    path = Path(path)
    with output_file(path, "a plan", force, is_plan, what="plan") as tmp:
        tmp.write_text(plan_text(doc))
    return path


def plan_text(doc: dict) -> str:
    """The plan file's text for ``doc`` (format and version first)."""
    return json.dumps({"format": FORMAT, "version": VERSION, **doc}, indent=1) + "\n"


def read_plan(path) -> dict:
    """The plan document, with its structure checked (errors name the file and field). Read
    bounded (size, nesting depth; a regular file only) and checked in linear time."""
    from ..limits import load_json

    path = Path(path)
    where = f"--plan {plain(str(path), 200)}"
    try:
        doc = load_json(Path(path), "the plan")
    except LNEError as e:
        raise LNEError(f"--plan {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LNEError(f"{where}: not an lne plan (field 'format' must be {FORMAT!r}; write one with lne tune)")
    if doc.get("version") != VERSION:
        raise LNEError(f"{where}: plan version {plain(doc.get('version'))}; this LNE reads version {VERSION}")
    nodes = doc.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and isinstance(n.get("name"), str)
                                              and isinstance(n.get("kernel"), str) for n in nodes):
        raise LNEError(f"{where}: field 'nodes' must be a list of {{\"name\": ..., \"kernel\": ...}}")
    seen: set[str] = set()
    for n in nodes:  # linear: a set, not names.count() per node
        if n["name"] in seen:
            raise LNEError(f"{where}: node {show(n['name'])} appears more than once")
        seen.add(n["name"])
    plugins = doc.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise LNEError(f"{where}: field 'plugins' must be a list of plugin names")
    return doc


def plan_for_model(path, model, target: str = "host", plugins=(), input_shapes=None, weights=None,
                   warn=lambda msg: print(f"warning: {msg}", file=sys.stderr)) -> tuple[dict, tuple]:
    """Check the plan at `path` against `model` on `target`: same nodes, and every kernel applies.
    Returns ({node: kernel}, plugins to enable (the caller's plus the plan's))."""
    from .candidates import fingerprint, model_layers

    doc = read_plan(path)
    plugins = tuple(plugins) + tuple(p for p in doc.get("plugins", []) if p not in plugins)
    if doc.get("target") not in (None, target):
        warn(f"{plain(str(path), 200)} was tuned for target {show(doc['target'])}; compiling for {target!r}")
    if doc.get("fingerprint") and Path(model).is_file() and fingerprint(model) != doc["fingerprint"]:
        warn(f"{plain(str(path), 200)} was tuned on a different file than {plain(str(model), 200)} "
             "(fingerprint differs); checking its nodes")
    layers = model_layers(model, target, plugins, input_shapes, weights)
    kernels = {n["name"]: n["kernel"] for n in doc["nodes"]}
    hint = "tuned for another model? run lne tune again" if doc.get("target") in (None, target) else \
        f"it was tuned for target {show(doc['target'])}: tune for {target!r}"
    by_name = {l.name: l for l in layers}
    where = f"--plan {plain(str(path), 200)}"
    for l in layers:
        if l.name not in kernels:
            raise LNEError(f"{where}: the model's node {show(l.name)} ({l.op}) is not in the plan ({hint})")
    for name, kernel in kernels.items():
        if name not in by_name:
            raise LNEError(f"{where}: node {show(name)} is not a node of {plain(str(model), 200)} ({hint})")
        layer = by_name[name]
        if kernel not in layer.kernels:
            raise LNEError(f"{where}: kernel {show(kernel)} does not apply to node {show(name)} ({layer.op}) "
                           f"on target {target}; candidates: {', '.join(layer.kernels)}")
    return kernels, plugins
