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

FORMAT, VERSION = "lne-plan", 1


def write_plan(path, doc: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "version": VERSION, **doc}, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_plan(path) -> dict:
    """The plan document, with its structure checked (errors name the file and field)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise LNEError(f"--plan {path}: cannot read it: {e.strerror or e}") from None
    except ValueError as e:
        raise LNEError(f"--plan {path}: not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LNEError(f"--plan {path}: not an lne plan (field 'format' must be {FORMAT!r}; write one with lne tune)")
    if doc.get("version") != VERSION:
        raise LNEError(f"--plan {path}: plan version {doc.get('version')!r}; this LNE reads version {VERSION}")
    nodes = doc.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and isinstance(n.get("name"), str)
                                              and isinstance(n.get("kernel"), str) for n in nodes):
        raise LNEError(f"--plan {path}: field 'nodes' must be a list of {{\"name\": ..., \"kernel\": ...}}")
    names = [n["name"] for n in nodes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise LNEError(f"--plan {path}: node {dup[0]!r} appears more than once")
    plugins = doc.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise LNEError(f"--plan {path}: field 'plugins' must be a list of plugin names")
    return doc


def plan_for_model(path, model, target: str = "host", plugins=(), input_shapes=None, weights=None,
                   warn=lambda msg: print(f"warning: {msg}", file=sys.stderr)) -> tuple[dict, tuple]:
    """Check the plan at `path` against `model` on `target`: same nodes, and every kernel applies.
    Returns ({node: kernel}, plugins to enable (the caller's plus the plan's))."""
    from .candidates import fingerprint, model_layers

    doc = read_plan(path)
    plugins = tuple(plugins) + tuple(p for p in doc.get("plugins", []) if p not in plugins)
    if doc.get("target") not in (None, target):
        warn(f"{path} was tuned for target {doc['target']!r}; compiling for {target!r}")
    if doc.get("fingerprint") and Path(model).is_file() and fingerprint(model) != doc["fingerprint"]:
        warn(f"{path} was tuned on a different file than {model} (fingerprint differs); checking its nodes")
    layers = model_layers(model, target, plugins, input_shapes, weights)
    kernels = {n["name"]: n["kernel"] for n in doc["nodes"]}
    hint = "tuned for another model? run lne tune again" if doc.get("target") in (None, target) else \
        f"it was tuned for target {doc['target']!r}: tune for {target!r}"
    by_name = {l.name: l for l in layers}
    for l in layers:
        if l.name not in kernels:
            raise LNEError(f"--plan {path}: the model's node {l.name!r} ({l.op}) is not in the plan ({hint})")
    for name, kernel in kernels.items():
        if name not in by_name:
            raise LNEError(f"--plan {path}: node {name!r} is not a node of {model} ({hint})")
        layer = by_name[name]
        if kernel not in layer.kernels:
            raise LNEError(f"--plan {path}: kernel {kernel!r} does not apply to node {name!r} ({layer.op}) "
                           f"on target {target}; candidates: {', '.join(layer.kernels)}")
    return kernels, plugins
