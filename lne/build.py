"""Build a bundle with CMake (host compiler; cross toolchains come with board targets)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .errors import LNEError


def _need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LNEError(f"{tool} is not installed; {hint}")
    return path


def build_bundle(bundle, build_dir=None, build_type: str = "Release", jobs: int = 2, quiet: bool = True) -> Path:
    """Configure and build; returns the build folder (lib<name>.a, lib<name>.so, <name>_example)."""
    bundle = Path(bundle)
    if not (bundle / "CMakeLists.txt").is_file():
        raise LNEError(f"{bundle}: not an LNE bundle (no CMakeLists.txt)")
    build_dir = Path(build_dir) if build_dir else bundle / "build"
    cmake = _need("cmake", "install it (apt-get install cmake) to build bundles")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    toolchain = []
    if (bundle / "toolchain.cmake").is_file():
        from . import targets
        from .session import find_manifest

        targets.get(find_manifest(bundle)["target"]).check_toolchain()
        toolchain = [f"-DCMAKE_TOOLCHAIN_FILE={(bundle / 'toolchain.cmake').resolve()}"]
    cmds = [[cmake, "-S", str(bundle), "-B", str(build_dir), *generator, *toolchain,
             f"-DCMAKE_BUILD_TYPE={build_type}"],
            [cmake, "--build", str(build_dir), "-j", str(jobs)]]
    for cmd in cmds:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = (proc.stdout + proc.stderr)[-4000:]
            raise LNEError(f"building {bundle} failed ({' '.join(cmd[:2])} ...):\n{log}")
        if not quiet:
            sys.stderr.write(proc.stdout)
    return build_dir
