"""Crafted hostile inputs for every `lne` command (issue 14), written at test time.

    python -m tests.conformance.hostile.make_hostile DIR [NAME ...]   # write them (all, or NAME...)

Nothing here is checked in but this generator: each input is a few bytes to under 1 MB and is
made deterministically (no randomness, no clock) into a folder. ``INPUTS`` maps a name to a
function ``make(d, case) -> Path`` that writes the input into folder ``d`` and returns its
main path; ``case`` is the case's root folder (for inputs that name absolute paths inside it).
tests/conformance/test_hostile.py runs each command line on them under a 1 GB / 30 s budget.
The generators live by family in base.py, onnx_inputs.py, caffe_inputs.py and documents.py;
this module collects them.

Classes (issue 14 and more in its spirit):

- ONNX: folding blowups of a few bytes (ConstantOfShape, Expand, Tile, Range, broadcast),
  folds that are cheap to declare and slow to compute (Conv / MatMul on ConstantOfShape), a
  50,000-node Relu chain (the largest under 1 MB; 100,000 nodes is 1.9 MB, made separately for
  the compile-time acceptance check), huge names, terminal escapes in names, rank 100,
  duplicate graph inputs, an INT4 initializer, external data pointing outside the model's
  folder (initializers and Constant attributes, relative / absolute / `..` / symlink), strides,
  dilations and pads near INT64_MAX, a model called lne_status.
- Caffe: deep nesting (header and inside a layer), 20,000 in-place ReLU layers, a string of
  escaped backslashes, a long string, caffemodel blobs with dims overflowing int64 or claiming
  billions of values, an Input layer with a huge dim.
- .npy: a header claiming 10^12 elements, string / struct / complex / object dtypes, truncated
  data, a deeply nested header, not .npy at all, big-endian (valid), wrong shape.
- plan.json: 35,000 nodes (the largest under 1 MB), deep nesting, wrong types, a huge string.
- bundle manifests (inside a copy of a real bundle, written by the test): see ``MANIFEST_EDITS``.
- workflow YAML: billion laughs, deep flow and block nesting, `name: ../../victim`, an absolute
  name, a huge name, `tool: lne.pipeline.tool:Tool`, `tool: os:system`, an unknown module, wrong
  types; a Speech Commands folder with FIFOs for a WAV, a background-noise file and a list file.
- FIFOs: as a model, a prototxt, a caffemodel, a plan, an .npy input, a calibration file, a member
  of a calibration folder, a workflow, an output.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import base
from . import onnx_inputs
from . import caffe_inputs
from . import documents
from .base import MB, SECRET, _node, mkfifo, onnx_bytes, tiny  # noqa: F401  (used by test_hostile)
from .documents import MANIFEST_EDITS, edit_manifest  # noqa: F401

INPUTS = {name: fn for m in (base, onnx_inputs, caffe_inputs, documents) for name, fn in vars(m).items()
          if callable(fn) and getattr(fn, "__module__", None) == m.__name__ and hasattr(fn, "__code__")
          and fn.__code__.co_argcount == 2 and fn.__code__.co_varnames[:2] == ("d", "case")}

# Inputs that are over 1 MB on purpose (exempt from the size check; say why)
OVER_1MB = {"onnx_relu_chain_100k": "the 100,000-node compile-time acceptance check (1.9 MB)"}


def make(name: str, case: Path) -> Path:
    """Write input ``name`` into ``case/in`` (``case`` the case's root folder); returns its path."""
    d = case / "in"
    d.mkdir(parents=True, exist_ok=True)
    (case / "cwd").mkdir(parents=True, exist_ok=True)
    return INPUTS[name](d, case)


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every regular file under a folder (FIFOs and links count 0)."""
    path = Path(path)
    if path.is_symlink() or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return 0


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.split("\n\n")[1])
        raise SystemExit(2)
    out = Path(argv[0])
    names = argv[1:] or sorted(INPUTS)
    for n in names:
        case = out / n
        p = make(n, case)
        print(f"{n:32s} {tree_size(p):>9d} B  {p}")


if __name__ == "__main__":
    main()
