"""Targets are data: CPU, compiler flags, ISA features, cross toolchain and emulator per board.

`host` is this machine. The boards are cross-compiled with Debian's GCC cross compilers
(g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf) and run here under qemu-user with the exact
CPU model, which catches instructions the board lacks.
"""
from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from functools import lru_cache

from ..errors import LNEError


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    cpu_flags: tuple[str, ...]              # compiler flags selecting the CPU
    isa: tuple[str, ...] = ()               # ISA features kernels may use (avx2, fma, neon, fp16, dotprod)
    triple: str | None = None               # cross toolchain prefix; None: the host compiler
    processor: str = ""                     # CMAKE_SYSTEM_PROCESSOR
    qemu: tuple[str, ...] = ()              # emulator command line (empty: runs natively)
    apt: str = ""                           # Debian package of the cross compiler
    cpu: str = ""

    @property
    def cross(self) -> bool:
        return self.triple is not None

    @property
    def sysroot(self) -> str | None:
        return f"/usr/{self.triple}" if self.triple else None

    def compiler(self, lang: str = "g++") -> str:
        return f"{self.triple}-{lang}" if self.triple else lang

    def check_toolchain(self) -> None:
        """Raise a clear error when the compiler or emulator this target needs is missing."""
        cxx = self.compiler()
        if shutil.which(cxx) is None:
            hint = f"apt-get install {self.apt}" if self.apt else "install a C++17 compiler"
            raise LNEError(f"target {self.name} needs the C++ compiler {cxx}, which is not installed; {hint}")

    def emulator(self) -> list[str]:
        if not self.qemu:
            return []
        if shutil.which(self.qemu[0]) is None:
            raise LNEError(f"running target {self.name} here needs {self.qemu[0]}; apt-get install qemu-user")
        return [*self.qemu, "-L", self.sysroot]


_AARCH64 = dict(triple="aarch64-linux-gnu", processor="aarch64", apt="g++-aarch64-linux-gnu")


def _arm64(name, description, cpu, flags, isa=("neon",), qemu_cpu=None):
    return Target(name, description, flags, isa, qemu=("qemu-aarch64", "-cpu", qemu_cpu or cpu), cpu=cpu, **_AARCH64)


BOARDS = [
    _arm64("rpi3", "Raspberry Pi 3, 64-bit OS (Cortex-A53)", "cortex-a53", ("-mcpu=cortex-a53",)),
    Target("rpi3-armv7", "Raspberry Pi 3, 32-bit OS (Cortex-A53, armhf, NEON)",
           # -Wno-psabi: GCC's armhf notes about a 2017 ABI change in passing vectors (informational)
           ("-mcpu=cortex-a53", "-mfpu=neon-fp-armv8", "-mfloat-abi=hard", "-Wno-psabi"), ("neon",),
           triple="arm-linux-gnueabihf",
           processor="arm", qemu=("qemu-arm",), apt="g++-arm-linux-gnueabihf", cpu="cortex-a53"),
    _arm64("rpi4", "Raspberry Pi 4 (Cortex-A72)", "cortex-a72", ("-mcpu=cortex-a72",)),
    _arm64("rpi5", "Raspberry Pi 5 (Cortex-A76: ARMv8.2 dot product)", "cortex-a76", ("-mcpu=cortex-a76",),
           ("neon", "fp16", "dotprod")),
    _arm64("jetson-nano", "Jetson Nano CPU (Cortex-A57)", "cortex-a57", ("-mcpu=cortex-a57",)),
    _arm64("jetson-xavier", "Jetson Xavier CPU (Carmel, ARMv8.2-A: GCC has no -mcpu=carmel)", "carmel",
           ("-march=armv8.2-a+fp16+crypto",), ("neon", "fp16"), qemu_cpu="max"),
]


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
        return Target("host", f"this machine ({machine}, AVX2/FMA)", ("-march=x86-64-v3",), ("avx2", "fma"),
                      processor=machine, cpu="x86-64-v3")
    if machine in ("aarch64", "arm64"):
        return Target("host", f"this machine ({machine})", ("-mcpu=native",), ("neon",), processor=machine)
    return Target("host", f"this machine ({machine})", (), processor=machine)


def get(name: str) -> Target:
    targets = all_targets()
    if name not in targets:
        raise LNEError(f"unknown target {name!r}; known targets: {', '.join(targets)}")
    return targets[name]


def all_targets() -> dict[str, Target]:
    return {"host": _host(), **{t.name: t for t in BOARDS}}
