"""Artifacts: typed, versioned tool outputs on disk.

An artifact is a folder::

    <step>/
      metadata.json   format, producing tool and version, parameters, input artifact hashes,
                      cache key, content hash, created time, duration, synthetic flag
      metrics.json    what the tool measured (counts, accuracy, timings ...)
      log.txt         the tool's log
      data/           the data itself, in the layout the format names

It is written in a temporary folder and renamed into place only when complete, so a folder
with a ``metadata.json`` is always a whole artifact (see :func:`publish`).

``metadata.json`` and ``metrics.json`` are read back through ``lne.limits.load_json`` (regular
file, bounded size and nesting) and their fields are type-checked: a damaged or hand-edited
artifact is an LNEError that names the file and the field (the executor then treats the step
as not cached and runs it again).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from lne import limits
from lne.errors import LNEError
from lne.limits import plain, show

METADATA = "metadata.json"
METRICS = "metrics.json"
LOG = "log.txt"
DATA = "data"
MAX_JSON_BYTES = 16 << 20    # metadata.json / metrics.json of one artifact
_PARTS = {METADATA, METRICS, LOG, DATA}
_JSON_TEMP = re.compile(r"\.(?:metadata|metrics)\.json\.[0-9a-f]{8}")   # write_json's temporary files

# field -> (accepted types, description, required)
_FIELDS = {
    "format": ((str,), "a string", True),
    "hash": ((str,), "a string", True),
    "tool": ((str,), "a string", True),
    "step": ((str,), "a string", True),
    "key": ((str, type(None)), "a string", False),
    "tool_version": ((str, int, float), "a string", False),
    "workflow": ((str, type(None)), "a string", False),
    "created": ((str, type(None)), "a string", False),
    "lne_version": ((str, type(None)), "a string", False),
    "synthetic": ((bool, type(None)), "true or false", False),
    "duration_s": ((int, float, type(None)), "a number", False),
    "params": ((dict,), "an object", False),
    "inputs": ((dict,), "an object", False),
}


def _type_name(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def check_metadata(meta, label: str) -> dict:
    """``meta`` (parsed metadata.json) if every field has the right type, else an LNEError
    naming the file and the field."""
    if not isinstance(meta, dict):
        raise LNEError(f"{label}: artifact metadata must be a JSON object, got {_type_name(meta)}")
    for name, (types, desc, required) in _FIELDS.items():
        if name not in meta:
            if required:
                raise LNEError(f"{label}: artifact metadata has no field {name!r}")
            continue
        v = meta[name]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise LNEError(f"{label}: field {name!r} must be {desc}, got {_type_name(v)}")
    for slot, i in (meta.get("inputs") or {}).items():
        if not isinstance(i, dict):
            raise LNEError(f"{label}: field 'inputs' -> {show(slot)} must be an object, got {_type_name(i)}")
        for k in ("step", "format", "hash"):
            if not isinstance(i.get(k), str):
                raise LNEError(f"{label}: field 'inputs' -> {show(slot)} -> {k!r} must be a string, "
                               f"got {_type_name(i.get(k))}")
    return meta


def looks_like_artifact(path: Path) -> bool:
    """True if ``path`` is a real folder holding nothing but artifact parts (a whole artifact,
    or one whose metadata.json is missing): a folder the executor may replace."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        return all(e.name in _PARTS or _JSON_TEMP.fullmatch(e.name) for e in path.iterdir())
    except OSError:
        return False


@dataclass
class Artifact:
    """A finished artifact folder (read-only view)."""
    path: Path
    metadata: dict

    @classmethod
    def open(cls, path) -> "Artifact":
        path = Path(path)
        meta = path / METADATA
        if not meta.is_file():
            raise LNEError(f"{plain(str(path), 200)}: not a pipeline artifact (no {METADATA})")
        label = plain(str(meta), 200)
        return cls(path, check_metadata(limits.load_json(meta, "artifact metadata", MAX_JSON_BYTES), label))

    @classmethod
    def find(cls, path) -> "Artifact | None":
        try:
            return cls.open(path)
        except LNEError:
            return None

    @property
    def data(self) -> Path:
        return self.path / DATA

    @property
    def format(self) -> str:
        return self.metadata["format"]

    @property
    def hash(self) -> str:
        return self.metadata["hash"]

    @property
    def synthetic(self) -> bool:
        return bool(self.metadata.get("synthetic"))

    @property
    def metrics(self) -> dict:
        return read_metrics(self.path)

    @property
    def log(self) -> str:
        p = self.path / LOG
        return limits.read_text(p, "the artifact log") if p.is_file() else ""


def read_metrics(folder) -> dict:
    """An artifact's metrics.json ({} if it has none); LNEError if it is not a JSON object."""
    p = Path(folder) / METRICS
    if not p.is_file():
        return {}
    data = limits.load_json(p, "artifact metrics", MAX_JSON_BYTES)
    if not isinstance(data, dict):
        raise LNEError(f"{plain(str(p), 200)}: artifact metrics must be a JSON object, got {_type_name(data)}")
    return data


def hash_tree(root: Path) -> str:
    """sha256 over the relative paths and bytes of every file under ``root`` (sorted)."""
    h = hashlib.sha256()
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    for p in files:
        rel = p.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0")
        if p.is_symlink():
            h.update(b"L" + os.readlink(p).encode())
            continue
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def fingerprint_path(path: Path) -> str:
    """A cheap stand-in for the content hash of an external input (a raw dataset folder or
    archive): sha256 over each file's relative path, size and modification time."""
    path = Path(path)
    try:
        if not path.exists():
            return "missing"
        h = hashlib.sha256()
        items = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in items:
            st = p.stat()
            rel = p.name if p == path else p.relative_to(path).as_posix()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    except OSError as e:
        raise LNEError(f"{plain(str(path), 200)}: cannot read: {e.strerror or e}") from None
    return h.hexdigest()


def write_json(path: Path, data) -> None:
    """Write JSON through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def publish(tmp: Path, final: Path, trash_dir: Path) -> None:
    """Move the finished artifact folder ``tmp`` to ``final``, replacing an older one.

    Each rename is atomic; between the two a crash leaves *no* artifact at ``final`` (the step
    simply runs again), never a partial one. (Protects against a killed process; no fsync, so
    not against power loss.)"""
    if final.is_symlink() or (final.exists() and not looks_like_artifact(final)):
        raise LNEError(f"{plain(str(final), 200)}: exists and is not a pipeline artifact; refusing to replace it")
    trash_dir.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = trash_dir / f"{final.name}-{uuid.uuid4().hex[:8]}"
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
