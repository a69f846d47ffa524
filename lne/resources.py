"""Where the runtime headers and templates are: inside the installed package, or beside it in a
source checkout."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"LNE installation is incomplete: no {name}/ directory near {_PKG}")


def runtime_dir() -> Path:
    return _find("runtime")


def templates_dir() -> Path:
    return _find("templates")
