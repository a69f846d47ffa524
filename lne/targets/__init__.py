"""Targets are data: compiler flags, ISA features and toolchain per board."""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import LNEError


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    cpu_flags: tuple[str, ...]
    isa: tuple[str, ...] = ()
    triple: str | None = None          # None: the host compiler
    toolchain: dict = field(default_factory=dict)


@lru_cache(maxsize=None)
def _host() -> Target:
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    machine = platform.machine()
    if machine in ("x86_64", "AMD64") and {"avx2", "fma", "bmi2", "f16c", "movbe"} <= flags:
        return Target("host", f"this machine ({machine}, AVX2/FMA)", ("-march=x86-64-v3",), ("avx2", "fma"))
    if machine in ("aarch64", "arm64"):
        return Target("host", f"this machine ({machine})", ("-mcpu=native",), ("neon",))
    return Target("host", f"this machine ({machine})", ())


def get(name: str) -> Target:
    targets = all_targets()
    if name not in targets:
        raise LNEError(f"unknown target {name!r}; known targets: {', '.join(targets)}")
    return targets[name]


def all_targets() -> dict[str, Target]:
    return {"host": _host()}
