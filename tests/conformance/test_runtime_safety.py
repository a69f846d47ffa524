"""The generated C++ of every reference network, exercised as an embedded app would use it
(tests/conformance/harness/safety_main.cpp):

* built with -fsanitize=address,undefined and run: no report, and outputs that match
  onnxruntime; init refuses bad arguments; run() on one context is deterministic;
* run() performs no heap allocation: counted through the sanitizer's malloc hook, and in the
  release build (-O3, target flags) by replacing glibc's malloc family with counting wrappers;
* several contexts sharing one weights blob, in parallel threads, give bit-identical outputs,
  and ThreadSanitizer finds no data race between them;
* the bundle's own example app runs clean under valgrind memcheck (two KWS networks in CI;
  the others take minutes under valgrind: LNE_VALGRIND_ALL=1 runs all of them, for a release).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lne.models import NAMES, VISION_NAMES

from ..conftest import have, ort_run

HARNESS = Path(__file__).with_name("harness") / "safety_main.cpp"
VALGRIND_NETS = ("kws_cnn", "ds_cnn")  # in CI; LNE_VALGRIND_ALL=1 runs all of them
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}

pytestmark = pytest.mark.skipif(not have("g++"), reason="needs g++")


def _build(bundle: Path, out: Path, flags: list[str]) -> Path:
    from lne import targets

    cmd = ["g++", "-std=c++17", *flags, *targets.get("host").cpu_flags, "-pthread",
           f"-I{bundle}", f"-I{bundle / 'runtime' / 'include'}", f"-I{bundle / 'runtime'}",
           str(bundle / "net.cpp"), str(HARNESS), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}"
    return out


def _run(app: Path, bundle: Path, x: np.ndarray, tmp: Path, prefix=(), env=None):
    x.astype("<f4").tofile(tmp / "in.bin")
    proc = subprocess.run([*prefix, str(app), str(bundle / "net.weights.bin"), str(tmp / "in.bin"),
                           str(tmp / "out.bin"), "2", "2"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=900)
    return proc, (np.fromfile(tmp / "out.bin", dtype="<f4") if proc.returncode == 0 else None)


def _case(name, reference_model, tmp_path):
    """(bundle named "net", input, onnxruntime's output) for a reference network."""
    import onnxruntime as ort

    from lne.compiler import compile_model

    model = reference_model(name)
    shape = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    (expected,) = ort_run(model, {"input": x})
    return compile_model(model, tmp_path / "bundle", name="net"), x, expected


@pytest.mark.parametrize("name", NAMES)
def test_sanitized_build(name, reference_model, tmp_path):
    """ASan + UBSan: no report; allocation-free run(); threads identical; right answers."""
    bundle, x, expected = _case(name, reference_model, tmp_path)
    opt = "-O1" if name in VISION_NAMES else "-O0"  # -O0 builds in half the time; the KWS nets run in ms
    app = _build(bundle, tmp_path / "safety_asan", [opt, "-g1", "-fsanitize=address,undefined",
                                                    "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"])
    proc, got = _run(app, bundle, x, tmp_path, env=SANITIZER_ENV)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stdout + proc.stderr[-6000:]
    assert "allocation-free (counted)" in proc.stdout
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name,mode", [("kws_cnn", "int8"), ("ds_cnn", "int8"), ("mobilenet_v2", "int8"),
                                       ("kws_cnn", "int16")])
def test_sanitized_quantized_build(name, mode, reference_model, tmp_path):
    """The int8 / int16 kernels (integer Winograd, packed GEMM, depthwise, QAdd...) under ASan + UBSan, on
    the network quantized by `lne quantize` (SYNTHETIC calibration) and compiled with --exact:
    no report, and the output of the optimized build (the float tail after the last quantized
    tensor -- global average, final Gemm -- may round differently at -O0: 1e-6)."""
    import lne
    from lne.compiler import compile_model
    from lne.quant import quantize

    model = reference_model(name)
    _, x, _ = _case(name, reference_model, tmp_path)
    (tmp_path / "calib").mkdir()
    for i in range(3):
        np.save(tmp_path / "calib" / f"{i}.npy", np.random.default_rng(i).standard_normal(x.shape).astype(np.float32))
    quantize(model, tmp_path / "q.onnx", str(tmp_path / "calib"), mode=mode)
    bundle = compile_model(tmp_path / "q.onnx", tmp_path / "qbundle", name="net", exact=True)
    app = _build(bundle, tmp_path / "safety_asan", ["-O0", "-g1", "-fsanitize=address,undefined",
                                                    "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"])
    proc, got = _run(app, bundle, x, tmp_path, env=SANITIZER_ENV)
    assert proc.returncode == 0 and "runtime error" not in proc.stderr, proc.stdout + proc.stderr[-6000:]
    (want,) = lne.InferenceSession(bundle).run(None, {"input": x})
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["ds_cnn", "mobilenet_v2"])
def test_threads_race_free(name, reference_model, tmp_path):
    """ThreadSanitizer: contexts of one bundle in parallel threads share no mutable state."""
    bundle, x, expected = _case(name, reference_model, tmp_path)
    app = _build(bundle, tmp_path / "safety_tsan", ["-O1", "-g1", "-fsanitize=thread"])
    proc, got = _run(app, bundle, x, tmp_path, env={"TSAN_OPTIONS": "halt_on_error=1"})
    assert proc.returncode == 0 and "ThreadSanitizer" not in proc.stderr, proc.stdout + proc.stderr[-6000:]
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-4)


def test_release_build_allocates_nothing(reference_model, tmp_path):
    """The same checks on the build users get (-O3, target flags), counting through glibc."""
    bundle, x, expected = _case("ds_cnn", reference_model, tmp_path)
    proc, got = _run(_build(bundle, tmp_path / "safety", ["-O3"]), bundle, x, tmp_path)
    assert proc.returncode == 0 and "allocation-free (counted)" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(not have("valgrind"), reason="needs valgrind")
@pytest.mark.parametrize("name", NAMES)
def test_valgrind_example_app(name, reference_model, tmp_path):
    if name not in VALGRIND_NETS and not os.environ.get("LNE_VALGRIND_ALL"):
        pytest.skip("minutes under valgrind; LNE_VALGRIND_ALL=1 runs it (release check)")
    bundle, x, expected = _case(name, reference_model, tmp_path)
    _valgrind_example(bundle, x, expected, tmp_path)


def _valgrind_example(bundle: Path, x: np.ndarray, expected: np.ndarray, tmp: Path) -> None:
    """The bundle's own example app (CMake, RelWithDebInfo) under valgrind memcheck."""
    build = tmp / "example-build"
    for cmd in (["cmake", "-S", str(bundle), "-B", str(build), "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                 "-DLNE_BUILD_SHARED=OFF"], ["cmake", "--build", str(build), "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    x.astype("<f4").tofile(tmp / "in.bin")
    proc = subprocess.run(["valgrind", "--error-exitcode=9", "--leak-check=full", "--errors-for-leak-kinds=definite",
                           "--track-origins=yes", str(build / "net_example"), str(bundle / "net.weights.bin"),
                           str(tmp / "in.bin"), str(tmp / "out.bin")], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "ERROR SUMMARY: 0 errors" in proc.stderr, proc.stderr[-3000:]
    got = np.fromfile(tmp / "out.bin", dtype="<f4").reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
