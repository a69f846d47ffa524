"""The bundle builds with plain CMake (no Python), its example app reproduces the Python
session bit for bit, and a user project consumes it with find_package."""
from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np

import lne
from lne.compiler import compile_model

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "ds_cnn.onnx"


def _cmake_build(src: Path, build: Path, *extra):
    subprocess.run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", *extra], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", build, "-j", "2"], check=True, capture_output=True)


def test_example_app_bit_for_bit(tmp_path):
    bundle = compile_model(SAMPLE, tmp_path / "bundle")
    plain = tmp_path / "plain-build"
    _cmake_build(bundle, plain)
    x = np.random.default_rng(3).standard_normal((1, 1, 40, 32)).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    app = plain / "ds_cnn_example"
    r = subprocess.run([app, bundle / "ds_cnn.weights.bin", tmp_path / "in.bin", tmp_path / "out.bin",
                        "--repeat", "5"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "median_ms=" in r.stdout
    from_app = np.fromfile(tmp_path / "out.bin", dtype=np.float32).reshape(1, 12)
    (from_python,) = lne.InferenceSession(bundle).run(None, {"input": x})
    assert from_app.tobytes() == from_python.tobytes()


def test_example_app_rejects_bad_files(tmp_path):
    bundle = compile_model(SAMPLE, tmp_path / "bundle", build=True)
    app = bundle / "build" / "ds_cnn_example"
    (tmp_path / "short.bin").write_bytes(b"\0" * 100)
    r = subprocess.run([app, bundle / "ds_cnn.weights.bin", tmp_path / "short.bin", tmp_path / "o.bin"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "exactly 5120 bytes" in r.stderr
    # weights of another compilation are refused by init with a clear status
    other = tmp_path / "other.bin"
    blob = bytearray((bundle / "ds_cnn.weights.bin").read_bytes())
    blob[100] ^= 0xFF
    blob[16] ^= 0x01  # the fingerprint no longer matches
    other.write_bytes(bytes(blob))
    np.zeros((1, 1, 40, 32), np.float32).tofile(tmp_path / "in.bin")
    r = subprocess.run([app, other, tmp_path / "in.bin", tmp_path / "o.bin"], capture_output=True, text=True)
    assert r.returncode != 0 and "different model" in r.stderr


def test_find_package_from_user_project(tmp_path):
    bundle = compile_model(SAMPLE, tmp_path / "bundle")
    moved = tmp_path / "somewhere" / "else"
    moved.parent.mkdir(parents=True)
    bundle.rename(moved)  # relocatable: nothing refers to the folder it was written in
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(textwrap.dedent(f"""
        cmake_minimum_required(VERSION 3.16)
        project(user_app CXX)
        find_package(ds_cnn CONFIG REQUIRED PATHS "{moved}" NO_DEFAULT_PATH)
        add_executable(user_app main.cpp)
        target_link_libraries(user_app PRIVATE lne::ds_cnn)
    """))
    (app / "main.cpp").write_text(textwrap.dedent("""
        #include <cstdio>
        #include "ds_cnn.h"
        int main() {
          ds_cnn_context ctx{};
          int rc = ds_cnn_run(&ctx, nullptr, nullptr);  // never initialised: a status, never a crash
          std::printf("%d %s\\n", DS_CNN_ARENA_SIZE > 0, ds_cnn_strerror(LNE_ERR_ARENA_TOO_SMALL));
          return ds_cnn_run(&ctx, nullptr, nullptr) == LNE_ERR_NOT_INITIALIZED && rc == LNE_ERR_NOT_INITIALIZED ? 0 : 1;
        }
    """))
    _cmake_build(app, tmp_path / "app-build")
    r = subprocess.run([tmp_path / "app-build" / "user_app"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("1 arena is smaller"), r.stdout
