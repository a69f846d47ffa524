"""NEON kernels (runtime/kernels/*/*_neon.h, lne/kernels/neon.py) on Arm under qemu-user.

* One C++ driver per kernel family (tests/ops/neon/*.cpp), cross-compiled for AArch64 and for
  32-bit armhf, runs the NEON kernel and the portable `_ref` kernel on many awkward shapes and
  checks that they agree (the `_ref` kernels are themselves checked against numpy in the other
  tests/ops/test_kernels_*.py).
* Networks built for rpi4 / rpi3-armv7 select the __neon kernels and compute what the host
  build computes.
* No x86 intrinsics header is reachable from an Arm bundle, no <arm_neon.h> from a host bundle.
"""
from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lne
from lne import kernels, targets
from lne.compiler import compile_model
from lne.resources import runtime_dir
from lne.run import run_bundle

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "examples" / "ds_cnn.onnx"
X86_HEADERS = re.compile(r"/(immintrin|[a-z0-9]*mmintrin|x86intrin|cpuid)\.h$")

# arch -> (target whose compiler / flags build the driver, extra flags, emulator CPU override)
ARCHS = {
    "aarch64": ("rpi4", (), ("qemu-aarch64", "-cpu", "cortex-a53")),
    "armv7": ("rpi3-armv7", (), None),
    # 32-bit NEON without FMA (VMLA path of the GEMM micro-kernel), e.g. a Cortex-A9 board
    "armv7-vfpv3": ("rpi3-armv7", ("-mcpu=cortex-a9", "-mfpu=neon", "-mfloat-abi=hard"),
                    ("qemu-arm", "-cpu", "cortex-a9")),
}
# minimum number of cases each driver must report (guards against a driver that checks nothing)
FAMILIES = {"gemm": 1300, "conv": 190, "pool": 70, "eltwise": 220}
CASES = [(f, a) for f in FAMILIES for a in ("aarch64", "armv7")] + [("gemm", "armv7-vfpv3")]


def _have(target: str) -> bool:
    t = targets.get(target)
    return shutil.which(t.compiler()) is not None and (not t.qemu or shutil.which(t.qemu[0]) is not None)


needs_arm = pytest.mark.skipif(not (_have("rpi4") and _have("rpi3-armv7")),
                               reason="cross compilers / qemu-user not installed (.ci/run installs them)")


def _cxx_flags(t, extra=()) -> list[str]:
    rt = runtime_dir()
    flags = list(extra) if extra else list(t.cpu_flags)
    return [t.compiler(), "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", *flags, f"-I{rt}", f"-I{rt / 'include'}"]


@needs_arm
@pytest.mark.parametrize("family,arch", CASES)
def test_neon_kernels_match_portable(family, arch, tmp_path):
    target, extra, emu = ARCHS[arch]
    t = targets.get(target)
    exe = tmp_path / f"{family}_{arch}"
    build = subprocess.run([*_cxx_flags(t, extra), str(HERE / "neon" / f"{family}.cpp"), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0 and not build.stderr.strip(), build.stderr[-3000:]
    cmd = [*(emu or t.qemu), "-L", t.sysroot, str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    m = re.search(rf"^{family} cases=(\d+) failures=0$", r.stdout, re.M)
    assert m and int(m.group(1)) >= FAMILIES[family], r.stdout[-2000:]


def test_neon_kernels_registered_above_their_portable_fallback():
    """Every NEON kernel has its header and outranks the portable kernel of the same variant,
    which stays registered as the fallback."""
    neon = [k for k in kernels.all_kernels() if k.isa == "neon"]
    ops = {k.op for k in neon}
    assert {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "Add",
            "ChannelAffine"} <= ops
    for k in neon:
        assert k.name.endswith("__neon") and (runtime_dir() / k.header).is_file(), k.name
        generic = [g for g in kernels.for_op(k.op) if g.isa == "generic" and g.variant == k.variant]
        assert generic and k.priority > max(g.priority for g in generic), k.name


def _deps(t, bundle: Path, src: Path) -> list[str]:
    """Every header the target compiler reads for src (gcc -M)."""
    cmd = [t.compiler(), "-std=c++17", *t.cpu_flags, "-M", f"-I{bundle}", f"-I{bundle / 'runtime'}",
           f"-I{bundle / 'runtime' / 'include'}", str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return [d for d in r.stdout.replace("\\\n", " ").split()[1:]]


@needs_arm
@pytest.mark.parametrize("target", ["host", "rpi4", "rpi3-armv7"])
def test_intrinsics_headers_stay_on_their_isa(target, tmp_path):
    t = targets.get(target)
    bundle = compile_model(SAMPLE, tmp_path / "b", target)
    deps = _deps(t, bundle, bundle / "ds_cnn.cpp") + _deps(t, bundle, bundle / "example" / "main.cpp")
    neon = [d for d in deps if d.endswith("/arm_neon.h")]
    x86 = [d for d in deps if X86_HEADERS.search(d)]
    kernels_used = {n["kernel"] for n in json.loads((bundle / "ds_cnn.json").read_text())["nodes"]}
    if "neon" in t.isa:
        assert neon and not x86, x86  # the NEON kernels are in, x86 intrinsics are not
    else:
        assert not neon, neon
        assert not any(k.endswith("__neon") for k in kernels_used), kernels_used


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or not shutil.which("g++"), reason="needs an x86 g++")
def test_neon_headers_are_empty_on_x86(tmp_path):
    """Included in an x86 build, every NEON header compiles cleanly and declares nothing."""
    headers = sorted({k.header for k in kernels.all_kernels() if k.isa == "neon"})
    src = tmp_path / "x.cpp"
    src.write_text("".join(f'#include "{h}"\n' for h in headers) + "int main() { return 0; }\n")
    rt = runtime_dir()
    flags = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{rt}", f"-I{rt / 'include'}"]
    r = subprocess.run([*flags, "-E", "-P", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "_neon(" not in r.stdout and "float32x4_t" not in r.stdout
    r = subprocess.run([*flags, "-c", str(src), "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


@pytest.fixture(scope="module")
def host_run(tmp_path_factory):
    cache = {}

    def get(model: Path):
        if model not in cache:
            sess = lne.InferenceSession(compile_model(model, tmp_path_factory.mktemp("host") / model.stem))
            x = np.random.default_rng(5).standard_normal(sess.get_inputs()[0].shape).astype(np.float32)
            cache[model] = (x, sess.run(None, {sess.get_inputs()[0].name: x})[0])
        return cache[model]
    return get


@needs_arm
@pytest.mark.parametrize("board", ["rpi4", "rpi3-armv7"])
@pytest.mark.parametrize("name", ["ds_cnn", "mobilenet_v2"])
def test_boards_select_neon_kernels_and_match_host(name, board, reference_model, host_run, tmp_path):
    model = SAMPLE if name == "ds_cnn" else reference_model(name)
    x, expected = host_run(model)
    bundle = compile_model(model, tmp_path / "b", board, build=True)
    nodes = json.loads((bundle / f"{model.stem}.json").read_text())["nodes"]
    neon_ops = {k.op for k in kernels.all_kernels() if k.isa == "neon"}
    chosen = {n["kernel"] for n in nodes if n["op"] in neon_ops}
    assert chosen and all(k.endswith("__neon") for k in chosen), chosen
    assert {"conv2d_f32_im2col__neon", "conv2d_f32_depthwise__neon", "global_avgpool_f32_ref__neon"} <= chosen
    (got,) = run_bundle(bundle, [x], board)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
