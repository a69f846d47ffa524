"""Every `lne` command against crafted hostile inputs (issue 14, "Acceptance"): no crafted file of
under 1 MB makes any command use more than 1 GB or run longer than 30 s, and every failure is an
`error: ...` (exit status 2) naming the file / node / field: no traceback, no "internal error"
(exit 3), no generic out-of-memory / recursion backstop, no raw terminal escapes, nothing written,
replaced or removed outside the command's own output, no byte of a file outside the model's folder
in what it writes.

Each case is one command line on inputs written by hostile/make_hostile.py into a fresh folder
(``<case>/in``), run as a user would in its own process:

    python -c "<RLIMIT_AS and RLIMIT_FSIZE of 1 GB>; from lne.cli import main; main(argv)" ARGV...

with the case's ``cwd``, ``HOME`` and ``TMPDIR`` inside the case folder, a 30 s wall-clock limit
(120 s for the cases that build the C++ of a valid bundle: that is the compiler's time, not work a
crafted file asks for), and its peak RSS measured with ``wait4`` (the child and every process it
waited for: CMake and the compiler included). A case passes when:

- it finished in time, under 1 GB of peak RSS and not killed by a signal;
- its exit status is one the case allows (2 for a bad input; 0 where the input is valid and LNE
  handles it; 1 only for `validate` reporting a mismatch);
- on failure, stderr has a line starting with ``error: `` (click's own ``Usage: ... Error: ...``
  for a malformed command line is accepted too), is under 4 KB, and has no ``Traceback``, no
  ``internal error``, and not the CLI's generic MemoryError / RecursionError backstop messages;
- stdout and stderr have no ESC, no other C0 control character but newline and tab, no DEL and
  no C1 control character;
- the case folder (inputs, the user's files, the cwd) changed only where the case allows (its
  declared output), and no file holds the secret the external-data cases point at.

    python -m pytest -q tests/conformance/test_hostile.py            # all (CI: heavy ones are `slow`)
    python -m pytest -q tests/conformance/test_hostile.py -m "not slow" -n 2
    python -m tests.conformance.test_hostile --report [-j 2] [-k SUBSTRING] [--json FILE]

The report mode prints one row per case: case, command, exit status, wall seconds, peak RSS in MB,
pass / FAIL and, for failures, what went wrong and the error line.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # python tests/conformance/test_hostile.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.conformance"

from tests.conformance.hostile import make_hostile as mh  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

LIMIT_BYTES = 1 << 30            # 1 GB: RLIMIT_AS / RLIMIT_FSIZE of the command, and the RSS bound
TIMEOUT_S = 30.0                 # a command on a crafted input
BUILD_TIMEOUT_S = 120.0          # a command that builds the C++ of a valid bundle (the compiler's time)
MAX_STDERR = 4096                # bytes of stderr on a failure
EXCLUDED = ("_log", "tmp", "home")  # case subfolders not compared (logs, TMPDIR, HOME)

# The command, in its own process. Its peak RSS is VmHWM of its own address space plus the peak
# of what it waited for (CMake, the compiler) when it exits; wait4's figure is the fallback (a
# process killed at its time limit): that one also counts the RSS of the forking parent.
WRAPPER = ("import atexit, os, resource, sys\n"
           f"lim = {LIMIT_BYTES}\n"
           "resource.setrlimit(resource.RLIMIT_AS, (lim, lim))\n"
           "resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))\n"
           "def _peak(path=os.environ.pop('HOSTILE_RUSAGE_FILE', '')):\n"
           "    hwm = 0\n"
           "    try:\n"
           "        with open('/proc/self/status') as f:\n"
           "            hwm = int(next(l for l in f if l.startswith('VmHWM:')).split()[1])\n"
           "    except Exception:\n"
           "        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
           "    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "    if path:\n"
           "        with open(path, 'w') as f:\n"
           "            f.write(f'{hwm} {kids}')\n"
           "atexit.register(_peak)\n"
           "from lne.cli import main\n"
           "main(sys.argv[1:])\n")

BACKSTOPS = ("the input is nested too deeply to read",             # lne/cli.py RecursionError backstop
             "out of memory: the input asks for more memory")       # lne/cli.py MemoryError backstop

ERR, OK, ANY = (2,), (0,), (0, 2)


# ------------------------------------------------------------------------------------------------
# what the machine has

def _have_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def available() -> dict[str, bool]:
    return {
        "build": bool(shutil.which("cmake") and (shutil.which("c++") or shutil.which("g++"))),
        "ort": _have_module("onnxruntime"),
        "pipeline": all(_have_module(m) for m in ("yaml", "h5py", "soundfile")),
        "caffe": _have_module("lne.frontends.caffe"),
        "fifo": hasattr(os, "mkfifo"),
        "nonroot": hasattr(os, "geteuid") and os.geteuid() != 0,
        "tune": _have_module("matplotlib"),
    }


# ------------------------------------------------------------------------------------------------
# shared fixtures: the tiny model compiled once (and built once), copied into the cases

class Workspace:
    """A folder of things several cases copy: the tiny model's bundle, unbuilt and built. Made on
    first use; shared by pytest-xdist workers (a lock file serializes the making)."""

    def __init__(self, base: Path):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)

    def _locked(self, name: str, make: Callable[[Path], None]) -> Path:
        import fcntl

        target = self.base / name
        with open(self.base / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / ".done").exists():
                if target.exists():
                    shutil.rmtree(target)
                target.mkdir(parents=True)
                make(target)
                (target / ".done").write_text("")
        return target

    def tiny_model(self) -> Path:
        return self._locked("tiny_model", lambda t: mh.tiny(t, t)) / "tiny.onnx"

    def _bundle(self, t: Path, build: bool) -> None:
        model = self.tiny_model()
        r = subprocess.run([sys.executable, "-m", "lne.cli", "compile", str(model), "-o", str(t / "tiny"),
                            *(["--build"] if build else [])], capture_output=True, text=True, cwd=t, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"cannot compile the tiny model for the hostile cases:\n{r.stderr}")

    def bundle(self) -> Path:
        return self._locked("tiny_bundle", lambda t: self._bundle(t, False)) / "tiny"

    def built(self) -> Path:
        return self._locked("tiny_built", lambda t: self._bundle(t, True)) / "tiny"


# ------------------------------------------------------------------------------------------------
# cases

@dataclass
class Case:
    id: str
    argv: list[str]                   # str.format templates: {case} {cwd} {in} {main} {bundle} {built} {<input>}
    inputs: tuple[str, ...] = ()      # make_hostile.INPUTS names; the first is {main}
    rc: tuple[int, ...] = ERR
    needs: tuple[str, ...] = ()
    heavy: bool = False
    timeout: float = TIMEOUT_S
    cwd: str = "cwd"
    allowed: tuple[str, ...] = ()     # fnmatch patterns (relative to the case folder) that may change
    words: tuple = ()                 # each: a string, or a tuple of alternatives, that stderr must hold
    not_words: tuple[str, ...] = ()   # strings stdout / stderr must not hold
    secret: bool = False              # no output may hold make_hostile.SECRET
    bundle: str | None = None         # "bundle" / "built": a copy of the tiny bundle at {bundle}
    manifest: str | None = None       # make_hostile.MANIFEST_EDITS name applied to that copy
    setup: Callable[[Path, dict], None] | None = None
    post: Callable[[Path, int], list[str]] | None = None
    pre: tuple[tuple[str, ...], ...] = ()   # command lines run first (plain, unchecked)
    note: str = ""


FIFO_WORDS = (("FIFO", "named pipe", "not a regular file"),)


def user_project(path: Path) -> None:
    """A user's folder: source files, a package.json (a *.json!), a config."""
    (path / "src").mkdir(parents=True, exist_ok=True)
    (path / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    (path / "package.json").write_text('{"name": "my-app", "version": "1.0.0"}\n')
    (path / "config.json").write_text('{"keep": true}\n')
    (path / "README.md").write_text("my project\n")


def setup_project(case: Path, ph: dict) -> None:
    user_project(case / "cwd" / "project")


def setup_cwd_user_files(case: Path, ph: dict) -> None:
    user_project(case / "cwd")


def setup_notes(case: Path, ph: dict) -> None:
    (case / "cwd" / "notes.txt").write_text("my notes\n")


def setup_symlink(case: Path, ph: dict) -> None:
    user_project(case / "cwd" / "project")
    (case / "cwd" / "link").symlink_to(case / "cwd" / "project")


def setup_sibling_old(case: Path, ph: dict) -> None:
    """cwd/out: a bundle LNE wrote; cwd/.out.old: the user's folder (LNE did not create it)."""
    shutil.copytree(ph["_ws"].bundle(), case / "cwd" / "out", symlinks=True)
    user_project(case / "cwd" / ".out.old")


def setup_sibling_old_fresh(case: Path, ph: dict) -> None:
    user_project(case / "cwd" / ".out.old")


def setup_existing_bundle(case: Path, ph: dict) -> None:
    shutil.copytree(ph["_ws"].bundle(), case / "cwd" / "out", symlinks=True)


def setup_model_in_folder(case: Path, ph: dict) -> None:
    d = case / "cwd" / "models"
    d.mkdir(parents=True)
    shutil.copy(ph["tiny"], d / "tiny.onnx")
    ph["model_in_folder"] = str(d / "tiny.onnx")


def setup_user_onnx(case: Path, ph: dict) -> None:
    (case / "cwd" / "notes.onnx").write_bytes(mh.onnx_bytes([mh._node("Relu", ["x"], ["y"])]))


def setup_user_json(case: Path, ph: dict) -> None:
    (case / "cwd" / "package.json").write_text('{"name": "my-app"}\n')


def setup_user_png(case: Path, ph: dict) -> None:
    (case / "cwd" / "plan.convergence.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"my own chart" * 10)


def setup_fifo_out(case: Path, ph: dict) -> None:
    mh.mkfifo(case / "cwd" / "fifo")
    mh.mkfifo(case / "cwd" / "fifo.npy")
    mh.mkfifo(case / "cwd" / "fifo.json")
    mh.mkfifo(case / "cwd" / "fifo.onnx")


def setup_readonly(case: Path, ph: dict) -> None:
    d = case / "cwd" / "ro"
    d.mkdir()
    d.chmod(0o555)


def built_ok(rel: str) -> Callable[[Path, int], list[str]]:
    """On exit 0, the bundle at ``rel`` must have its example app (the build did happen)."""
    def check(case: Path, rc: int) -> list[str]:
        if rc != 0:
            return []
        b = case / rel
        apps = list((b / "build").glob("*_example")) if (b / "build").is_dir() else []
        return [] if apps else [f"exit 0 with --build but no example app in {rel}/build"]
    return check


def _cases() -> list[Case]:
    cs: list[Case] = []
    add = cs.append
    out = ["-o", "{cwd}/out"]
    tune_fast = ["--episodes", "10", "--runs", "1", "--warmup", "0", "--min-time", "0", "--rounds", "1"]

    # -- ONNX: folding blowups and slow folds ---------------------------------------------------
    blowups = ["onnx_cos_4g", "onnx_cos_1g", "onnx_cos_rank8", "onnx_expand", "onnx_tile", "onnx_range",
               "onnx_range_float", "onnx_broadcast", "onnx_broadcast_1g", "onnx_conv_fold", "onnx_matmul_fold",
               "onnx_declared_huge_input", "onnx_reshape_huge"]
    for g in blowups:
        add(Case(f"compile-{g}", ["compile", "{main}", *out], (g,)))
    add(Case("inspect-onnx_conv_fold", ["inspect", "{main}"], ("onnx_conv_fold",)))
    add(Case("validate-onnx_cos_1g", ["validate", "{main}"], ("onnx_cos_1g",), needs=("ort",)))
    add(Case("quantize-onnx_cos_1g", ["quantize", "{main}", "--calib", "{calib_npy}", "-o", "{cwd}/q.onnx"],
             ("onnx_cos_1g", "calib_npy"), needs=("ort",)))
    add(Case("quantize-onnx_conv_fold", ["quantize", "{main}", "--calib", "{calib_npy}", "-o", "{cwd}/q.onnx"],
             ("onnx_conv_fold", "calib_npy"), needs=("ort",)))
    add(Case("tune-onnx_cos_1g", ["tune", "{main}", "-o", "{cwd}/plan.json", *tune_fast], ("onnx_cos_1g",),
             needs=("tune",)))
    add(Case("bench-onnx_cos_1g", ["bench", "{main}", "--runs", "1", "--warmup", "0"], ("onnx_cos_1g",)))

    # -- ONNX: graph size -----------------------------------------------------------------------
    add(Case("compile-onnx_relu_chain", ["compile", "{main}", *out], ("onnx_relu_chain",), rc=ANY, heavy=True,
             allowed=("cwd/out*",), note="50,000 Relu nodes (0.99 MB)"))
    add(Case("inspect-onnx_relu_chain", ["inspect", "{main}"], ("onnx_relu_chain",), rc=ANY, heavy=True))
    add(Case("compile-onnx_relu_chain_100k", ["compile", "{main}", *out], ("onnx_relu_chain_100k",), rc=OK,
             heavy=True, allowed=("cwd/out*",), note="acceptance: 100,000 Relu nodes compile in 30 s (1.9 MB file)"))

    # -- ONNX: names ----------------------------------------------------------------------------
    for g, rc in (("onnx_huge_node_name", ERR), ("onnx_huge_undefined_input", ERR), ("onnx_huge_input_name", ANY)):
        add(Case(f"compile-{g}", ["compile", "{main}", *out], (g,), rc=rc, allowed=("cwd/out*",) if rc != ERR else ()))
    add(Case("inspect-onnx_huge_node_name", ["inspect", "{main}"], ("onnx_huge_node_name",)))
    add(Case("compile-onnx_escape_names", ["compile", "{main}", *out], ("onnx_escape_names",), rc=ANY,
             allowed=("cwd/out*",)))
    add(Case("compile-dump-ir-onnx_escape_names", ["compile", "{main}", *out, "--dump-ir", "all"],
             ("onnx_escape_names",), rc=ANY, allowed=("cwd/out*",)))
    add(Case("inspect-onnx_escape_names", ["inspect", "{main}"], ("onnx_escape_names",), rc=ANY))
    add(Case("inspect-bundle-onnx_escape_names", ["inspect", "{cwd}/esc"], ("onnx_escape_names",), rc=ANY,
             pre=(("compile", "{main}", "-o", "{cwd}/esc"),), allowed=("cwd/esc*",)))
    add(Case("compile-onnx_escape_error", ["compile", "{main}", *out], ("onnx_escape_error",)))
    add(Case("validate-onnx_escape_error", ["validate", "{main}"], ("onnx_escape_error",), needs=("ort",)))

    # -- ONNX: rank, duplicates, INT4 -----------------------------------------------------------
    add(Case("compile-onnx_rank100", ["compile", "{main}", *out], ("onnx_rank100",)))
    add(Case("inspect-onnx_rank100", ["inspect", "{main}"], ("onnx_rank100",)))
    add(Case("validate-onnx_rank100", ["validate", "{main}"], ("onnx_rank100",), needs=("ort",)))
    add(Case("compile-onnx_duplicate_inputs", ["compile", "{main}", *out], ("onnx_duplicate_inputs",)))
    add(Case("validate-onnx_duplicate_inputs", ["validate", "{main}"], ("onnx_duplicate_inputs",), needs=("ort",)))
    add(Case("compile-onnx_duplicate_init_input", ["compile", "{main}", *out], ("onnx_duplicate_init_input",),
             rc=ANY, allowed=("cwd/out*",)))
    add(Case("compile-onnx_int4", ["compile", "{main}", *out], ("onnx_int4",), rc=ANY, allowed=("cwd/out*",),
             not_words=("truncated or corrupt",)))

    # -- ONNX: external data outside the model's folder ------------------------------------------
    for kind in ("attr", "init"):
        for where in ("cwd", "abs", "dotdot", "symlink"):
            g = f"onnx_ext_{kind}_{where}"
            add(Case(f"compile-{g}", ["compile", "{main}", *out], (g,), secret=True))
    add(Case("inspect-onnx_ext_attr_cwd", ["inspect", "{main}"], ("onnx_ext_attr_cwd",), secret=True))
    add(Case("validate-onnx_ext_attr_cwd", ["validate", "{main}"], ("onnx_ext_attr_cwd",), secret=True,
             needs=("ort",)))
    add(Case("compile-onnx_ext_attr_fifo", ["compile", "{main}", *out], ("onnx_ext_attr_fifo",), needs=("fifo",)))
    add(Case("compile-onnx_ext_huge_length", ["compile", "{main}", *out], ("onnx_ext_huge_length",)))
    add(Case("compile-onnx_ext_attr_beside", ["compile", "{main}", *out], ("onnx_ext_attr_beside",), rc=OK,
             allowed=("cwd/out*",), note="control: external data beside the model is read"))

    # -- ONNX: geometry and names reaching the C++ ------------------------------------------------
    for g in ("onnx_strides_int64max", "onnx_strides_2p31", "onnx_dilations_int64max", "onnx_pads_int64max",
              "onnx_pool_strides_int64max"):
        # (refused when compiling, or compiled and built: one command line covers both)
        add(Case(f"compile-build-{g}", ["compile", "{main}", *out, "--build"], (g,), rc=ANY, needs=("build",),
                 timeout=BUILD_TIMEOUT_S, allowed=("cwd/out*",), post=built_ok("cwd/out")))
    add(Case("compile-build-onnx_lne_status", ["compile", "{main}", *out, "--build"], ("onnx_lne_status",), rc=OK,
             needs=("build",), heavy=True, timeout=BUILD_TIMEOUT_S, allowed=("cwd/out*",), post=built_ok("cwd/out")))
    add(Case("compile-build-name-lne_status", ["compile", "{tiny}", *out, "--name", "lne_status", "--build"],
             ("tiny",), rc=OK, needs=("build",), heavy=True, timeout=BUILD_TIMEOUT_S, allowed=("cwd/out*",),
             post=built_ok("cwd/out")))

    # -- FIFOs as inputs --------------------------------------------------------------------------
    fifo = dict(needs=("fifo",), words=FIFO_WORDS)
    add(Case("compile-fifo_onnx", ["compile", "{main}", *out], ("fifo_onnx",), **fifo))
    add(Case("inspect-fifo_onnx", ["inspect", "{main}"], ("fifo_onnx",), **fifo))
    add(Case("validate-fifo_onnx", ["validate", "{main}"], ("fifo_onnx",), needs=("fifo", "ort"), words=FIFO_WORDS))
    add(Case("bench-fifo_onnx", ["bench", "{main}", "--runs", "1", "--warmup", "0"], ("fifo_onnx",), **fifo))
    add(Case("quantize-fifo_onnx", ["quantize", "{main}", "--calib", "{calib_npy}", "-o", "{cwd}/q.onnx"],
             ("fifo_onnx", "calib_npy"), needs=("fifo", "ort"), words=FIFO_WORDS))
    add(Case("tune-fifo_onnx", ["tune", "{main}", "-o", "{cwd}/plan.json", *tune_fast], ("fifo_onnx",),
             needs=("fifo", "tune"), words=FIFO_WORDS))
    add(Case("compile-fifo_prototxt", ["compile", "{main}", *out], ("fifo_prototxt",),
             needs=("fifo", "caffe"), words=FIFO_WORDS))
    add(Case("convert-fifo_prototxt", ["convert", "{main}", "-o", "{cwd}/n.onnx"], ("fifo_prototxt",),
             needs=("fifo", "caffe"), words=FIFO_WORDS))
    add(Case("compile-fifo_caffemodel", ["compile", "{in}/for_fifo.prototxt", "--weights", "{main}", *out],
             ("fifo_caffemodel",), needs=("fifo", "caffe"), words=FIFO_WORDS))
    add(Case("compile-plan-fifo", ["compile", "{tiny}", *out, "--plan", "{main}"], ("plan_fifo", "tiny"), **fifo))
    add(Case("validate-input-fifo", ["validate", "{tiny}", "--input", "x={main}"], ("npy_fifo", "tiny"),
             needs=("fifo", "ort"), words=FIFO_WORDS))
    add(Case("run-input-fifo", ["run", "{bundle}", "{main}", "-o", "{cwd}/y.npy"], ("npy_fifo",), bundle="bundle",
             **fifo))
    add(Case("quantize-calib-fifo", ["quantize", "{tiny}", "--calib", "{main}", "-o", "{cwd}/q.onnx"],
             ("npy_fifo", "tiny"), needs=("fifo", "ort"), words=FIFO_WORDS))
    add(Case("quantize-calib-folder-fifo", ["quantize", "{tiny}", "--calib", "{main}", "-o", "{cwd}/q.onnx"],
             ("calib_folder_fifo", "tiny"), rc=ANY, needs=("fifo", "ort"), allowed=("cwd/q*",),
             note="a FIFO member of a calibration folder: refused or skipped, never waited for"))

    # -- Caffe ------------------------------------------------------------------------------------
    caffe = dict(needs=("caffe",))
    for g in ("caffe_deep_header", "caffe_deep_layer", "caffe_deep_known", "caffe_backslashes",
              "caffe_huge_input_dim"):
        add(Case(f"compile-{g}", ["compile", "{main}", *out], (g,), **caffe))
    for g in ("caffe_deep_header", "caffe_backslashes"):
        add(Case(f"convert-{g}", ["convert", "{main}", "-o", "{cwd}/n.onnx"], (g,), **caffe))
    add(Case("compile-caffe_long_string", ["compile", "{main}", *out], ("caffe_long_string",), rc=ANY,
             allowed=("cwd/out*",), **caffe))
    add(Case("compile-caffe_escape_names", ["compile", "{main}", *out], ("caffe_escape_names",), rc=ANY,
             allowed=("cwd/out*",), **caffe))
    add(Case("inspect-caffe_escape_names", ["inspect", "{main}"], ("caffe_escape_names",), rc=ANY, **caffe))
    add(Case("compile-caffe_inplace_relu", ["compile", "{main}", *out], ("caffe_inplace_relu",), rc=ANY,
             heavy=True, allowed=("cwd/out*",), note="20,000 in-place ReLU layers (0.92 MB)", **caffe))
    add(Case("convert-caffe_inplace_relu", ["convert", "{main}", "-o", "{cwd}/n.onnx"], ("caffe_inplace_relu",),
             rc=ANY, heavy=True, allowed=("cwd/n.onnx*", "cwd/.n.onnx*"), **caffe))
    for g in ("caffe_blob_overflow", "caffe_blob_billions", "caffe_blob_negative"):
        stem = g.removeprefix("caffe_")
        add(Case(f"compile-{g}", ["compile", f"{{in}}/{stem}.prototxt", "--weights", "{main}", *out], (g,), **caffe))
    add(Case("convert-caffe_blob_overflow", ["convert", "{in}/blob_overflow.prototxt", "--weights", "{main}",
                                             "-o", "{cwd}/n.onnx"], ("caffe_blob_overflow",), **caffe))

    # -- .npy inputs --------------------------------------------------------------------------------
    bad_npy = ["npy_huge_header", "npy_huge_header_4d", "npy_overflow_header", "npy_negative_dim", "npy_string",
               "npy_bytes_dtype", "npy_struct", "npy_subarray", "npy_complex", "npy_object", "npy_datetime",
               "npy_truncated", "npy_truncated_header", "npy_deep_header", "npy_huge_header_len", "npy_not_npy",
               "npy_wrong_shape"]
    for g in ("npy_huge_header", "npy_overflow_header", "npy_string", "npy_struct", "npy_complex", "npy_object",
              "npy_truncated", "npy_deep_header", "npy_not_npy"):
        add(Case(f"validate-input-{g}", ["validate", "{tiny}", "--input", "x={main}"], (g, "tiny"), needs=("ort",)))
    add(Case("validate-input-npy_wrong_shape", ["validate", "{tiny}", "{bundle}", "--input", "x={main}"],
             ("npy_wrong_shape", "tiny"), bundle="built", needs=("ort", "build")))
    for g in ("npy_bigendian", "npy_float64"):
        add(Case(f"validate-input-{g}", ["validate", "{tiny}", "{bundle}", "--input", "x={main}"], (g, "tiny"),
                 rc=ANY, bundle="built", needs=("ort", "build")))
    add(Case("validate-input-npy_nan", ["validate", "{tiny}", "{bundle}", "--input", "x={main}"], ("npy_nan", "tiny"),
             rc=(0, 1, 2), bundle="built", needs=("ort", "build")))
    for g in bad_npy:  # (`lne run` starts fastest: every kind of bad .npy goes through it)
        add(Case(f"run-input-{g}", ["run", "{bundle}", "{main}", "-o", "{cwd}/y.npy"], (g,),
                 bundle="built" if g == "npy_wrong_shape" else "bundle",
                 needs=("build",) if g == "npy_wrong_shape" else (),
                 note="built copy: an unbuilt one is built before the shape is checked" if g == "npy_wrong_shape"
                 else ""))
    for g in ("npy_huge_header", "npy_object", "npy_truncated"):
        add(Case(f"quantize-calib-{g}", ["quantize", "{tiny}", "--calib", "{main}", "-o", "{cwd}/q.onnx"],
                 (g, "tiny"), needs=("ort",)))
    for g in ("calib_folder_huge", "calib_folder_string"):  # (a string .npy: in a folder)
        add(Case(f"quantize-calib-{g}", ["quantize", "{tiny}", "--calib", "{main}", "-o", "{cwd}/q.onnx"],
                 (g, "tiny"), needs=("ort",)))
    add(Case("quantize-calib-calib_folder_many", ["quantize", "{tiny}", "--calib", "{main}", "-o", "{cwd}/q.onnx"],
             ("calib_folder_many", "tiny"), rc=ANY, needs=("ort",), allowed=("cwd/q*",), heavy=True))

    # -- plan.json ----------------------------------------------------------------------------------
    for g in ("plan_many_nodes", "plan_deep", "plan_deep_object", "plan_wrong_types", "plan_wrong_node_types",
              "plan_wrong_version", "plan_huge_string", "plan_escape"):
        add(Case(f"compile-plan-{g}", ["compile", "{tiny}", *out, "--plan", "{main}"], (g, "tiny")))

    # -- bundle manifests (a copy of the tiny bundle, its manifest edited) --------------------------
    for edit in mh.MANIFEST_EDITS:
        rc = ANY if edit in ("huge_arena", "arena_too_small", "huge_weights_size", "escape_names",
                             "many_nodes") else ERR
        add(Case(f"inspect-manifest-{edit}", ["inspect", "{bundle}"], (), rc=rc, bundle="bundle", manifest=edit,
                 needs=("fifo",) if edit == "fifo" else ()))
    for edit in ("wrong_types", "huge_shape", "huge_arena", "arena_too_small", "huge_weights_size", "deep", "fifo"):
        add(Case(f"validate-manifest-{edit}", ["validate", "{tiny}", "{bundle}"], ("tiny",), bundle="built",
                 manifest=edit, needs=("ort", "build"), rc=ANY if edit == "huge_weights_size" else ERR,
                 note="the weights file is what is read; its size in the manifest may be ignored"
                 if edit == "huge_weights_size" else ""))
    for edit in ("wrong_types", "huge_arena", "bad_name", "deep", "fifo"):
        add(Case(f"run-manifest-{edit}", ["run", "{bundle}", "{good_npy}", "-o", "{cwd}/y.npy"], ("good_npy",),
                 rc=ANY if edit == "huge_arena" else ERR, bundle="built", manifest=edit, needs=("build",),
                 allowed=("cwd/y.npy",) if edit == "huge_arena" else ()))
    for edit in ("wrong_types", "huge_arena", "fifo"):
        add(Case(f"bench-manifest-{edit}", ["bench", "{bundle}", "--runs", "1", "--warmup", "0"], (),
                 bundle="built", manifest=edit, needs=("build",), rc=ANY if edit == "huge_arena" else ERR,
                 note="bench runs the example app, which has its arena built in" if edit == "huge_arena" else ""))

    # -- workflows ----------------------------------------------------------------------------------
    pipe = dict(needs=("pipeline",))
    for g in ("wf_billion_laughs", "wf_deep_flow", "wf_deep_block", "wf_name_huge", "wf_name_escape",
              "wf_tool_abstract", "wf_tool_os_system", "wf_tool_unknown_module", "wf_tool_dotted_attr",
              "wf_tool_bad_syntax", "wf_wrong_types", "wf_steps_not_mapping", "wf_not_yaml", "wf_tags"):
        add(Case(f"pipeline-run-{g}", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"], (g,), **pipe))
    for g in ("wf_billion_laughs", "wf_deep_flow", "wf_tool_os_system"):
        add(Case(f"pipeline-status-{g}", ["pipeline", "status", "{main}", "-w", "{cwd}/w"], (g,), **pipe))
    add(Case("pipeline-run-wf_fifo", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"], ("wf_fifo",),
             needs=("pipeline", "fifo"), words=FIFO_WORDS))
    add(Case("pipeline-status-wf_fifo", ["pipeline", "status", "{main}", "-w", "{cwd}/w"], ("wf_fifo",),
             needs=("pipeline", "fifo"), words=FIFO_WORDS))
    add(Case("pipeline-run-wf_name_dotdot", ["pipeline", "run", "{main}", "-q"], ("wf_name_dotdot",), rc=ANY,
             cwd="cwd/a/b", allowed=("cwd/a/b/runs*",), note="victim: cwd/a/victim (runs/../../victim)", **pipe))
    add(Case("pipeline-run-wf_name_abs", ["pipeline", "run", "{main}", "-q"], ("wf_name_abs",), rc=ANY,
             allowed=("cwd/runs*",), note="victim: cwd/abs_victim", **pipe))
    add(Case("pipeline-run-wf_dataset_ok", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"], ("wf_dataset_ok",),
             rc=OK, allowed=("cwd/w*",), note="control", **pipe))
    add(Case("pipeline-run-wf_dataset_fifo_wav", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"],
             ("wf_dataset_fifo_wav",), rc=OK, allowed=("cwd/w*",), needs=("pipeline", "fifo"),
             note="FIFOs named *.wav (a keyword and the noise folder) are skipped"))
    add(Case("pipeline-run-wf_dataset_fifo_list", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"],
             ("wf_dataset_fifo_list",), allowed=("cwd/w*",), needs=("pipeline", "fifo"), words=FIFO_WORDS))
    add(Case("pipeline-run-wf_dataset_fifo_archive", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"],
             ("wf_dataset_fifo_archive",), allowed=("cwd/w*",), needs=("pipeline", "fifo"),
             words=(FIFO_WORDS[0] + ("not a folder or a .tar.gz archive",),)))
    add(Case("pipeline-run-wf_dataset_huge_wav", ["pipeline", "run", "{main}", "-w", "{cwd}/w", "-q"],
             ("wf_dataset_huge_wav",), rc=ANY, allowed=("cwd/w*",), **pipe))
    add(Case("pipeline-run-workdir-user-folder", ["pipeline", "run", "{main}", "-w", "{cwd}/project", "-q"],
             ("wf_dataset_ok",), setup=setup_project, **pipe))
    add(Case("pipeline-run-workdir-fifo", ["pipeline", "run", "{main}", "-w", "{cwd}/fifo", "-q"],
             ("wf_dataset_ok",), setup=setup_fifo_out, needs=("pipeline", "fifo")))
    for g, rc in (("artifact_deep", ERR), ("artifact_wrong_types", ERR), ("artifact_escape", ANY)):
        add(Case(f"pipeline-show-artifact-{g}", ["pipeline", "show-artifact", "{main}"], (g,), rc=rc, **pipe))

    # -- output paths: compile ---------------------------------------------------------------------
    t = ("tiny",)
    add(Case("compile-out-dot", ["compile", "{tiny}", "-o", "."], t, setup=setup_cwd_user_files))
    add(Case("compile-out-parent-is-file", ["compile", "{tiny}", "-o", "{cwd}/notes.txt/out"], t, setup=setup_notes))
    add(Case("compile-out-300-chars", ["compile", "{tiny}", "-o", "{cwd}/" + "a" * 300], t))
    add(Case("compile-out-path-5000-chars", ["compile", "{tiny}", "-o", "{cwd}/" + "/".join(["b" * 200] * 25)], t))
    add(Case("compile-out-user-folder", ["compile", "{tiny}", "-o", "{cwd}/project"], t, setup=setup_project))
    add(Case("compile-out-symlink-to-user-folder", ["compile", "{tiny}", "-o", "{cwd}/link"], t,
             setup=setup_symlink))
    add(Case("compile-out-sibling-old", ["compile", "{tiny}", *out], t, rc=OK, setup=setup_sibling_old,
             allowed=("cwd/out", "cwd/out/*"), note="cwd/out: an LNE bundle; cwd/.out.old: the user's"))
    add(Case("compile-out-sibling-old-fresh", ["compile", "{tiny}", *out], t, rc=OK, setup=setup_sibling_old_fresh,
             allowed=("cwd/out", "cwd/out/*")))
    add(Case("compile-out-existing-bundle", ["compile", "{tiny}", *out], t, rc=OK, setup=setup_existing_bundle,
             allowed=("cwd/out", "cwd/out/*"), note="control: a bundle LNE wrote is replaced"))
    add(Case("compile-out-holds-input", ["compile", "{model_in_folder}", "-o", "{cwd}/models"], t,
             setup=setup_model_in_folder))
    add(Case("compile-out-is-model", ["compile", "{tiny}", "-o", "{tiny}"], t))
    add(Case("compile-out-fifo", ["compile", "{tiny}", "-o", "{cwd}/fifo"], t, setup=setup_fifo_out,
             needs=("fifo",)))
    add(Case("compile-out-readonly", ["compile", "{tiny}", "-o", "{cwd}/ro/out"], t, setup=setup_readonly,
             needs=("nonroot",)))
    weird = {"semicolon": "b;x", "dollar-brace": "b${{HOME}}", "cmake-var": "b${{CMAKE_BINARY_DIR}}x",
             "env-var": "b$ENV{{HOME}}", "quote": 'b"q', "newline": "b\nq", "backslash": "b\\q"}
    for label, name in weird.items():
        pattern = "cwd/" + name.replace("{{", "{").replace("}}", "}").replace("[", "[[]") + "*"
        if label in ("semicolon", "newline"):  # (without --build, CMake never sees the path)
            add(Case(f"compile-out-{label}", ["compile", "{tiny}", "-o", "{cwd}/" + name], t, rc=ANY,
                     allowed=(pattern, "cwd/." + pattern[4:])))
        add(Case(f"compile-build-out-{label}", ["compile", "{tiny}", "-o", "{cwd}/" + name, "--build"], t, rc=ANY,
                 needs=("build",), timeout=BUILD_TIMEOUT_S, allowed=(pattern, "cwd/." + pattern[4:]),
                 post=built_ok(pattern[:-1])))
    add(Case("compile-build-out-space", ["compile", "{tiny}", "-o", "{cwd}/my bundle", "--build"], t, rc=OK,
             needs=("build",), heavy=True, timeout=BUILD_TIMEOUT_S, allowed=("cwd/my bundle*", "cwd/.my bundle*"),
             post=built_ok("cwd/my bundle"), note="control: a space is an ordinary path"))

    # -- output paths: convert, quantize, tune, run, pipeline ------------------------------------------
    q = ["quantize", "{tiny}", "--calib", "{calib_npy}", "-o"]
    qi = ("tiny", "calib_npy")
    add(Case("convert-out-user-folder", ["convert", "{main}", "-o", "{cwd}/project"], ("tiny_prototxt",),
             setup=setup_project, **caffe))
    add(Case("convert-out-user-onnx", ["convert", "{main}", "-o", "{cwd}/notes.onnx"], ("tiny_prototxt",),
             setup=setup_user_onnx, **caffe))
    add(Case("convert-out-is-input", ["convert", "{main}", "-o", "{main}"], ("tiny_prototxt",), **caffe))
    add(Case("quantize-out-user-onnx", [*q, "{cwd}/notes.onnx"], qi, setup=setup_user_onnx, needs=("ort",)))
    add(Case("quantize-out-is-input", [*q, "{tiny}"], qi, needs=("ort",)))
    add(Case("quantize-out-fifo", [*q, "{cwd}/fifo.onnx"], qi, setup=setup_fifo_out, needs=("ort", "fifo")))
    add(Case("tune-out-user-json", ["tune", "{tiny}", "-o", "{cwd}/package.json", *tune_fast], t,
             setup=setup_user_json, needs=("tune",)))
    add(Case("tune-out-user-folder", ["tune", "{tiny}", "-o", "{cwd}/project", *tune_fast], t, setup=setup_project,
             needs=("tune",)))
    add(Case("tune-out-is-input", ["tune", "{tiny}", "-o", "{tiny}", *tune_fast], t, needs=("tune",)))
    add(Case("tune-out-fifo", ["tune", "{tiny}", "-o", "{cwd}/fifo.json", *tune_fast], t, setup=setup_fifo_out,
             needs=("tune", "fifo")))
    add(Case("tune-out-user-png-beside", ["tune", "{tiny}", "-o", "{cwd}/plan.json", *tune_fast], t, rc=ANY,
             setup=setup_user_png, needs=("tune",), heavy=True, allowed=("cwd/plan.json", "cwd/.plan.json*",
                                                                        "cwd/plan.layers.png", "cwd/.plan.layers*"),
             note="the user's plan.convergence.png beside the plan must survive"))
    add(Case("run-out-user-folder", ["run", "{bundle}", "{good_npy}", "-o", "{cwd}/project"], ("good_npy",),
             bundle="built", setup=setup_project, needs=("build",)))
    add(Case("run-out-fifo", ["run", "{bundle}", "{good_npy}", "-o", "{cwd}/fifo.npy"], ("good_npy",),
             bundle="built", setup=setup_fifo_out, needs=("build", "fifo")))
    return cs


CASES = _cases()


# ------------------------------------------------------------------------------------------------
# running one case

@dataclass
class Result:
    case: Case
    command: str = ""
    rc: int | None = None
    wall_s: float = 0.0
    rss_mb: float = 0.0
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)
    message: str = ""                 # the error line (or the first line of stderr)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _hash(path: Path, size: int) -> str:
    if size > (8 << 20):
        return f"size:{size}"
    h = hashlib.sha1()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def snapshot(root: Path) -> dict[str, tuple]:
    """relative path -> what it is (never follows links, never opens FIFOs)."""
    out: dict[str, tuple] = {}
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            rel = os.path.relpath(e.path, root)
            if d == root and e.name in EXCLUDED:
                continue
            st = e.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(e.path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
                stack.append(Path(e.path))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, _hash(Path(e.path), st.st_size))
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo",)
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode))
    return out


def _allowed(rel: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


_PY_WARNING = re.compile(r"\.py:\d+: \w*Warning: ")


def _bad_chars(text: str) -> str:
    """The first control character a terminal would act on, with its context; "" if none."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if (o < 0x20 and ch not in "\n\t") or o == 0x7F or 0x80 <= o < 0xA0:
            return f"{ch!r} at {i}: {text[max(0, i - 30):i + 10]!r}"
    return ""


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("error: ", "internal error", "Error: ")):
            return ln
    for ln in lines:
        if "Traceback" in ln or "Error" in ln:
            return ln
    return lines[-1] if lines else ""


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, float, bool]:
    """(exit status, peak RSS in MB of the process and what it waited for, timed out)."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    try:  # anything it left running in its group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    return rc, ru.ru_maxrss / 1024.0, timed_out


def _format(template: str, ph: dict) -> str:
    return template.format_map(ph)


def prepare(case: Case, root: Path, ws: Workspace) -> tuple[Path, dict]:
    croot = root / case.id
    if croot.exists():
        shutil.rmtree(croot)
    for sub in ("in", "cwd", "home", "tmp", "_log"):
        (croot / sub).mkdir(parents=True, exist_ok=True)
    (croot / case.cwd).mkdir(parents=True, exist_ok=True)
    ph: dict = {"case": str(croot), "cwd": str(croot / "cwd"), "in": str(croot / "in"), "_ws": ws}
    for i, name in enumerate(case.inputs):
        p = mh.make(name, croot)
        ph[name] = str(p)
        if i == 0:
            ph["main"] = str(p)
    if case.bundle:
        src = ws.built() if case.bundle == "built" else ws.bundle()
        dst = croot / "in" / "bundle"
        shutil.copytree(src, dst, symlinks=True)
        ph["bundle"] = str(dst)
        if case.manifest:
            mh.edit_manifest(dst, case.manifest)
    if any("{built}" in a for a in case.argv):
        dst = croot / "in" / "built"
        shutil.copytree(ws.built(), dst, symlinks=True)
        ph["built"] = str(dst)
    if case.setup:
        case.setup(croot, ph)
    return croot, ph


def _env(croot: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LNE_", "PYTEST_", "COV_"))}
    env.update(HOME=str(croot / "home"), TMPDIR=str(croot / "tmp"), XDG_CACHE_HOME=str(croot / "home" / ".cache"),
               PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0", TERM="dumb")
    env.pop("PYTHONSTARTUP", None)
    return env


def run_case(case: Case, root: Path, ws: Workspace, have: dict | None = None) -> Result:
    res = Result(case)
    have = have if have is not None else available()
    missing = [n for n in case.needs if not have.get(n, False)]
    if missing:
        res.skipped = f"needs {', '.join(missing)}"
        return res
    croot, ph = prepare(case, root, ws)
    env = _env(croot)
    cwd = croot / case.cwd
    for pre in case.pre:
        subprocess.run([sys.executable, "-m", "lne.cli", *(_format(a, ph) for a in pre)], cwd=cwd, env=env,
                       capture_output=True, timeout=600)
    argv = [_format(a, ph) for a in case.argv]
    res.command = "lne " + shlex.join(argv).replace(str(croot), "$C")
    before = snapshot(croot)
    out_f, err_f = croot / "_log" / "stdout", croot / "_log" / "stderr"
    t0 = time.monotonic()
    peak_f = croot / "_log" / "peak"
    env["HOSTILE_RUSAGE_FILE"] = str(peak_f)
    with open(out_f, "wb") as fo, open(err_f, "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=fo, stderr=fe, start_new_session=True)
        rc, rss, timed_out = _wait(proc, case.timeout)
    res.wall_s = time.monotonic() - t0
    try:
        rss = max(int(v) for v in peak_f.read_text().split()) / 1024.0
    except (OSError, ValueError):
        res.notes.append("peak RSS from wait4 (includes the parent's RSS at fork)")
    res.rc, res.rss_mb, res.timed_out = rc, rss, timed_out
    out_b, err_b = out_f.read_bytes(), err_f.read_bytes()
    out, err = out_b.decode("utf-8", "replace"), err_b.decode("utf-8", "replace")
    res.message = _error_line(err)[:300]
    p = res.problems

    if timed_out:
        p.append(f"timed out after {case.timeout:.0f} s")
    elif rc < 0:
        p.append(f"killed by signal {-rc} ({signal.Signals(-rc).name})"
                 + (" (a file over 1 GB)" if -rc == signal.SIGXFSZ else ""))
    elif rc not in case.rc:
        p.append(f"exit status {rc}, expected {' or '.join(map(str, case.rc))}")
    if rss >= LIMIT_BYTES / (1 << 20):
        p.append(f"peak RSS {rss:.0f} MB >= 1 GB")
    if "Traceback" in err:
        p.append("traceback on stderr")
    warning = next((ln for ln in err.splitlines() if _PY_WARNING.search(ln)), None)
    if warning:
        p.append(f"a Python warning on stderr: {warning.strip()[:200]}")
    if "internal error" in err:
        p.append("'internal error' on stderr")
    for b in BACKSTOPS:
        if b in err:
            p.append(f"generic backstop message ({b!r}): no file / node / field named")
    if rc not in (0, None) and not timed_out and rc > 0:
        lines = err.splitlines()
        clean = any(ln.startswith("error: ") for ln in lines) or (
            err.startswith("Usage:") and any(ln.startswith("Error: ") for ln in lines))
        if not clean and rc != 1:
            p.append("no 'error: ' line on stderr")
        if len(err_b) > MAX_STDERR:
            p.append(f"stderr is {len(err_b)} bytes (at most {MAX_STDERR})")
    for name, text in (("stdout", out), ("stderr", err)):
        bad = _bad_chars(text)
        if bad:
            p.append(f"raw control character on {name}: {bad}")
    for w in case.words:
        alts = (w,) if isinstance(w, str) else tuple(w)
        if rc != 0 and not any(a in err for a in alts):
            p.append(f"stderr does not say {' / '.join(map(repr, alts))}")
    for w in case.not_words:
        if w in out or w in err:
            p.append(f"output says {w!r}")

    after = snapshot(croot)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    bad_changes = [k for k in changed if not _allowed(k, case.allowed)]
    for k in bad_changes[:5]:
        what = "created" if k not in before else "removed" if k not in after else "changed"
        p.append(f"{what} {k!r} (outside the command's output)")
    if len(bad_changes) > 5:
        p.append(f"... and {len(bad_changes) - 5} more paths changed outside the output")
    if case.secret:
        if mh.SECRET in out_b or mh.SECRET in err_b:
            p.append("the secret file's bytes are printed")
        for rel, info in after.items():
            if info[0] != "file" or rel.startswith("in/") or rel == "cwd/secret.bin":
                continue
            try:
                if mh.SECRET in (croot / rel).read_bytes():
                    p.append(f"the secret file's bytes are in {rel}")
            except OSError:
                pass
    if case.post:
        p.extend(case.post(croot, rc))
    left = [e.name for e in (croot / "tmp").iterdir()]
    if left:
        res.notes.append(f"left in TMPDIR: {', '.join(sorted(left)[:5])}")
    return res


def cleanup(root: Path, case: Case) -> None:
    croot = root / case.id
    if croot.exists():
        for d, subdirs, _ in os.walk(croot):  # (read-only folders)
            for s in subdirs:
                try:
                    os.chmod(os.path.join(d, s), 0o755)
                except OSError:
                    pass
        shutil.rmtree(croot, ignore_errors=True)


def describe(res: Result) -> str:
    if res.ok:
        return "pass"
    return "FAIL: " + "; ".join(res.problems)


# ------------------------------------------------------------------------------------------------
# pytest

try:
    import pytest
except ImportError:  # pragma: no cover - report mode without pytest
    pytest = None

if pytest is not None:
    _HAVE = available()

    def _param(c: Case):
        marks = [pytest.mark.slow] if c.heavy else []
        missing = [n for n in c.needs if not _HAVE.get(n, False)]
        if missing:
            marks.append(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))
        return pytest.param(c, id=c.id, marks=marks)

    @pytest.fixture(scope="session")
    def hostile_ws(tmp_path_factory):
        base = tmp_path_factory.getbasetemp()
        shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        return Workspace(shared / "hostile-shared")

    def test_case_ids_are_unique():
        ids = [c.id for c in CASES]
        assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})

    def test_every_crafted_input_is_under_1_mb(tmp_path):
        """The promise is for crafted files of under 1 MB: each input here is one (except those
        listed in OVER_1MB, each with its reason). Every generator runs, deterministically."""
        too_big = {}
        for name in sorted(mh.INPUTS):
            if name in ("calib_folder_many",):  # 5,000 files: made once in its case
                continue
            if name.startswith("fifo") and not hasattr(os, "mkfifo"):
                continue
            p = mh.make(name, tmp_path / name)
            size = mh.tree_size(p)
            if size >= mh.MB and name not in mh.OVER_1MB:
                too_big[name] = size
            first = _digest(p)
            shutil.rmtree(tmp_path / name)
            assert _digest(mh.make(name, tmp_path / name)) == first, f"{name} is not deterministic"
            shutil.rmtree(tmp_path / name)
        assert not too_big, too_big

    def _digest(path: Path) -> str:
        h = hashlib.sha1()
        files = [path] if not path.is_dir() else sorted(path.rglob("*"))
        for f in files:
            h.update(str(f.relative_to(path.parent)).encode())
            if f.is_file() and not f.is_symlink():
                h.update(f.read_bytes())
        return h.hexdigest()

    def test_every_input_is_used_by_a_case():
        used = {g for c in CASES for g in c.inputs}
        assert not set(mh.INPUTS) - used, sorted(set(mh.INPUTS) - used)

    @pytest.mark.parametrize("case", [_param(c) for c in CASES])
    def test_hostile(case, tmp_path, hostile_ws):
        res = run_case(case, tmp_path, hostile_ws, _HAVE)
        if res.skipped:
            pytest.skip(res.skipped)
        err = (tmp_path / case.id / "_log" / "stderr").read_bytes().decode("utf-8", "replace")
        assert res.ok, (f"{res.command}\n  exit {res.rc}, {res.wall_s:.1f} s, {res.rss_mb:.0f} MB\n  "
                        + "\n  ".join(res.problems) + "\n--- stderr (first 2000 characters) ---\n"
                        + err[:2000].encode("unicode_escape").decode("ascii", "replace").replace("\\n", "\n"))


# ------------------------------------------------------------------------------------------------
# report mode

def report(argv=None) -> int:
    import argparse
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    ap = argparse.ArgumentParser(prog="python -m tests.conformance.test_hostile",
                                 description="Run every hostile case and print a table of the figures.")
    ap.add_argument("--report", action="store_true", help="(the default)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("-k", "--filter", action="append", default=[], help="only cases whose id holds this (repeat)")
    ap.add_argument("--no-heavy", action="store_true", help="leave out the cases marked slow")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--keep", help="keep the case folders in this folder (default: a temporary one, removed)")
    a = ap.parse_args(argv)

    cases = [c for c in CASES if (not a.filter or any(f in c.id for f in a.filter)) and not (a.no_heavy and c.heavy)]
    have = available()
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="lne-hostile-"))
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root / "_shared")

    def one(c: Case) -> Result:
        try:
            return run_case(c, root / "cases", ws, have)
        except Exception as e:  # a broken case must not hide the others
            r = Result(c)
            r.problems.append(f"harness error: {type(e).__name__}: {e}")
            return r
        finally:
            if not a.keep:
                cleanup(root / "cases", c)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        results = list(pool.map(one, cases))
    total = time.monotonic() - t0

    w = max(len(c.id) for c in cases) if cases else 10
    print(f"{'case':{w}s} {'exit':>4s} {'wall s':>7s} {'RSS MB':>7s}  verdict / error line")
    for r in results:
        if r.skipped:
            print(f"{r.case.id:{w}s} {'-':>4s} {'-':>7s} {'-':>7s}  skipped ({r.skipped})")
            continue
        rc = "T/O" if r.timed_out else str(r.rc)
        print(f"{r.case.id:{w}s} {rc:>4s} {r.wall_s:7.1f} {r.rss_mb:7.0f}  {describe(r)}")
        if not r.ok and r.message:
            print(f"{'':{w}s} {'':4s} {'':7s} {'':7s}    stderr: {r.message[:200]}")
    ran = [r for r in results if not r.skipped]
    fails = [r for r in ran if not r.ok]
    print(f"\n{len(ran)} cases run, {len(fails)} failed, {len(results) - len(ran)} skipped; "
          f"max wall {max((r.wall_s for r in ran), default=0):.1f} s, "
          f"max RSS {max((r.rss_mb for r in ran), default=0):.0f} MB; {total:.0f} s in all")
    if fails:
        print("\nFailures (command, then what went wrong):")
        for r in fails:
            print(f"- {r.case.id}\n    {r.command[:400]}\n    " + "\n    ".join(r.problems)
                  + (f"\n    stderr: {r.message[:300]}" if r.message else ""))
    if a.json:
        Path(a.json).write_text(json.dumps([{"case": r.case.id, "command": r.command, "exit": r.rc,
                                             "timed_out": r.timed_out, "wall_s": round(r.wall_s, 2),
                                             "rss_mb": round(r.rss_mb, 1), "ok": r.ok, "skipped": r.skipped,
                                             "problems": r.problems, "message": r.message, "notes": r.notes,
                                             "heavy": r.case.heavy, "note": r.case.note}
                                            for r in results], indent=1))
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(report(sys.argv[1:]))
