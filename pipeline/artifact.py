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
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from lne.errors import LNEError

METADATA = "metadata.json"
METRICS = "metrics.json"
LOG = "log.txt"
DATA = "data"


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
            raise LNEError(f"{path}: not a pipeline artifact (no {METADATA})")
        try:
            return cls(path, json.loads(meta.read_text()))
        except (OSError, ValueError) as e:
            raise LNEError(f"{meta}: unreadable artifact metadata: {e}") from None

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
        p = self.path / METRICS
        return json.loads(p.read_text()) if p.is_file() else {}

    @property
    def log(self) -> str:
        p = self.path / LOG
        return p.read_text() if p.is_file() else ""


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
    if not path.exists():
        return "missing"
    h = hashlib.sha256()
    items = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in items:
        st = p.stat()
        rel = p.name if p == path else p.relative_to(path).as_posix()
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
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
    trash_dir.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = trash_dir / f"{final.name}-{uuid.uuid4().hex[:8]}"
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
