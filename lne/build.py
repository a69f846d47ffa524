"""Build a bundle with CMake (host compiler; cross toolchains come with board targets).

Paths reach CMake only as separate argv items (no shell), and the generated CMake files name
the bundle's files relative to themselves (CMAKE_CURRENT_LIST_DIR). CMake still splits a path
at ``;``, expands ``$`` and turns ``\\`` into ``/`` in places, and its generators cannot quote
``#``, quotes or a newline everywhere: a bundle or build folder whose path holds one of those is
refused before CMake runs (naming the character), so nothing is ever written outside it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import LNEError
from .limits import plain

# characters CMake cannot take in a source or build path, and how a message names them
CMAKE_UNSAFE = {";": "a semicolon ';'", "$": "a dollar sign '$'", '"': "a double quote '\"'",
                "'": "a single quote \"'\"", "#": "a hash '#'", "\\": "a backslash '\\'",
                "`": "a backtick '`'"}


def check_build_path(path, what: str = "bundle folder") -> Path:
    """The absolute ``path`` if CMake can build there; an LNEError naming the first character
    it cannot take (see CMAKE_UNSAFE; control characters such as a newline too)."""
    full = os.path.abspath(os.fspath(path))
    for ch in full + os.path.realpath(full):  # the path given, and where its links lead
        if ch in CMAKE_UNSAFE or ord(ch) < 0x20 or ord(ch) == 0x7F:
            name = CMAKE_UNSAFE.get(ch) or ("a newline" if ch == "\n" else "a tab" if ch == "\t"
                                            else f"a control character (U+{ord(ch):04X})")
            raise LNEError(f"{what} {plain(full, 200)}: its path contains {name}, which CMake cannot take "
                           "safely in a build path (it splits or expands it); choose a path without it "
                           "(or build without --build and move the bundle)")
    return Path(full)


def _need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LNEError(f"{tool} is not installed; {hint}")
    return path


def build_bundle(bundle, build_dir=None, build_type: str = "Release", jobs: int = 2, quiet: bool = True) -> Path:
    """Configure and build; returns the build folder (lib<name>.a, lib<name>.so, <name>_example)."""
    bundle = Path(bundle)
    if not (bundle / "CMakeLists.txt").is_file():
        raise LNEError(f"{plain(str(bundle), 200)}: not an LNE bundle (no CMakeLists.txt)")
    source = check_build_path(bundle)
    build_dir = check_build_path(Path(build_dir) if build_dir else bundle / "build", "build folder")
    cmake = _need("cmake", "install it (apt-get install cmake) to build bundles")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    toolchain = []
    if (bundle / "toolchain.cmake").is_file():
        from . import targets
        from .session import find_manifest

        targets.get(find_manifest(bundle)["target"]).check_toolchain()
        toolchain = ["-DCMAKE_TOOLCHAIN_FILE:FILEPATH=" + str(source / "toolchain.cmake")]
    cmds = [[cmake, "-S", str(source), "-B", str(build_dir), *generator, *toolchain,
             f"-DCMAKE_BUILD_TYPE={build_type}"],
            [cmake, "--build", str(build_dir), "-j", str(jobs)]]
    for cmd in cmds:
        proc = subprocess.run(cmd, capture_output=True, text=True)  # argv items, never a shell
        if proc.returncode != 0:
            log = (proc.stdout + proc.stderr)[-4000:]
            raise LNEError(f"building {plain(str(bundle), 200)} failed ({' '.join(cmd[:2])} ...):\n{log}")
        if not quiet:
            sys.stderr.write(proc.stdout)
    return build_dir
