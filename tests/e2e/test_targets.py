"""Board targets: cross-built bundles run under qemu-user with the board's CPU model and
compute what the host build computes; generated code is warning-free for every target."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lne
from lne import targets
from lne.compiler import compile_model
from lne.run import run_bundle

BOARDS = [t.name for t in targets.BOARDS]
NETWORKS = ["kws_cnn", "ds_cnn", "kws1", "kws3", "kws9", "ds_kws1", "ds_kws3", "ds_kws9", "squeezenet1_1",
            "mobilenet_v2"]
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ds_cnn.onnx"


def _have(target: str) -> bool:
    t = targets.get(target)
    return shutil.which(t.compiler()) is not None and (not t.qemu or shutil.which(t.qemu[0]) is not None)


needs_cross = pytest.mark.skipif(not all(_have(b) for b in BOARDS),
                                 reason="cross compilers / qemu-user not installed (.ci/run installs them)")


@pytest.fixture(scope="module")
def host_outputs(reference_model, tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            path = reference_model(name)
            sess = lne.InferenceSession(compile_model(path, tmp_path_factory.mktemp("host") / name))
            x = np.random.default_rng(11).standard_normal(sess.get_inputs()[0].shape).astype(np.float32)
            cache[name] = (x, sess.run(None, {sess.get_inputs()[0].name: x})[0])
        return cache[name]
    return get


@needs_cross
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", NETWORKS)
def test_board_build_matches_host(board, name, reference_model, host_outputs, tmp_path):
    x, expected = host_outputs(name)
    bundle = compile_model(reference_model(name), tmp_path / "b", board, build=True)
    assert (bundle / "toolchain.cmake").is_file()
    app = bundle / "build" / f"{name}_example"
    machine = "ARM" if board == "rpi3-armv7" else "aarch64"
    assert machine in subprocess.run(["file", app], capture_output=True, text=True).stdout
    (got,) = run_bundle(bundle, [x], board)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


@needs_cross
def test_cpu_model_catches_instructions_the_board_lacks(tmp_path):
    """An ARMv8.2 fp16 instruction, built with the jetson-xavier target's compiler and flags,
    runs on qemu's `max` CPU and dies with SIGILL on a Cortex-A72: running each board build
    under its exact CPU model is a real check."""
    t = targets.get("jetson-xavier")
    src = tmp_path / "probe.cpp"
    src.write_text("#include <arm_neon.h>\n#include <cstdio>\nint main(int argc, char**) {\n"
                   "  float16x8_t a = vdupq_n_f16((float16_t)argc);\n  a = vaddq_f16(a, a);\n"
                   "  std::printf(\"%f\\n\", (double)vgetq_lane_f16(a, 0));\n  return 0;\n}\n")
    exe = tmp_path / "probe"
    subprocess.run([t.compiler(), *t.cpu_flags, "-O1", src, "-o", exe], check=True)
    ok = subprocess.run(["qemu-aarch64", "-cpu", "max", "-L", t.sysroot, exe], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "2.000000"
    dies = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", "-L", t.sysroot, exe], capture_output=True)
    assert dies.returncode in (-4, 132), dies.returncode  # SIGILL


@needs_cross
def test_missing_cross_compiler_is_named(tmp_path, monkeypatch):
    bundle = compile_model(SAMPLE, tmp_path / "b", "rpi4")
    real_which = shutil.which
    monkeypatch.setattr(targets.shutil, "which", lambda name: None if "aarch64" in name else real_which(name))
    from lne.build import build_bundle
    with pytest.raises(lne.LNEError, match="aarch64-linux-gnu-g\\+\\+.*apt-get install g\\+\\+-aarch64-linux-gnu"):
        build_bundle(bundle)


WARN = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O2", "-c"]


@needs_cross
@pytest.mark.parametrize("target", ["host", *BOARDS])
def test_generated_code_has_no_warnings(target, tmp_path):
    t = targets.get(target)
    bundle = compile_model(SAMPLE, tmp_path / "b", target)
    compilers = [[t.compiler(), *t.cpu_flags]]
    if target in ("host", "rpi4") and shutil.which("clang++-14"):
        clang = ["clang++-14"] + ([] if target == "host" else ["--target=aarch64-linux-gnu", "-mcpu=cortex-a72"])
        compilers.append(clang + ([*t.cpu_flags] if target == "host" else []))
    for cc in compilers:
        for src in (bundle / "ds_cnn.cpp", bundle / "example" / "main.cpp"):
            r = subprocess.run([*cc, *WARN, f"-I{bundle}", f"-I{bundle / 'runtime'}", f"-I{bundle / 'runtime/include'}",
                                src, "-o", tmp_path / "x.o"], capture_output=True, text=True)
            assert r.returncode == 0 and not r.stderr.strip(), (cc[0], src.name, r.stderr[-3000:])
