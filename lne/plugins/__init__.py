"""Acceleration-library plugins: each adds kernels to the registry and says how a bundle links
the library. A bundle uses a plugin only when compiled with `--plugin NAME`."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import LNEError


@dataclass(frozen=True)
class Plugin:
    name: str
    description: str
    cmake: str  # CMake lines: compile @TARGET@_objects against the library, append it to
                # @TARGET@_PLUGIN_LIBRARIES (linked by the static and shared libraries)


_PLUGINS: dict[str, Plugin] = {}


def register(p: Plugin) -> Plugin:
    _PLUGINS[p.name] = p
    return p


def get(name: str) -> Plugin:
    _load()
    if name not in _PLUGINS:
        raise LNEError(f"unknown plugin {name!r}; available: {', '.join(sorted(_PLUGINS)) or 'none'}")
    return _PLUGINS[name]


def all_plugins() -> dict[str, Plugin]:
    _load()
    return dict(_PLUGINS)


def _load() -> None:
    from . import openblas  # noqa: F401
