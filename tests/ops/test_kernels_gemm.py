"""GEMM / MatMul runtime kernels (runtime/kernels/gemm) against numpy."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lne._kernels as K

from .act_oracle import act_np

RTOL, ATOL = 1e-4, 1e-5

ACTS = [
    (K.ACT_NONE, 0.0, 0.0),
    (K.ACT_RELU, 0.0, 0.0),
    (K.ACT_CLIP, -0.5, 0.7),
    (K.ACT_LEAKY_RELU, 0.1, 0.0),
    (K.ACT_SIGMOID, 0.0, 0.0),
    (K.ACT_TANH, 0.0, 0.0),
    (K.ACT_HARD_SIGMOID, 0.2, 0.5),
    (K.ACT_HARD_SWISH, 0.0, 0.0),
]




def rnd(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(got, want, rtol=RTOL, atol=ATOL, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


SGEMMS = [K.sgemm_f32_ref, K.sgemm_f32_blocked]


# --- sgemm ---------------------------------------------------------------------------------

SHAPES = [
    (1, 1, 1), (1, 17, 5), (1, 1000, 300), (2, 33, 9), (3, 16, 16), (5, 1, 7), (6, 16, 256),
    (7, 17, 257), (13, 5, 3), (6, 48, 1), (19, 100, 600), (64, 3136 // 4, 64), (37, 53, 71),
    (64, 1, 3000), (3, 1, 5), (20, 49, 1200), (9, 200, 40), (4, 8, 9), (12, 9, 33),
]


@pytest.mark.parametrize("fn", SGEMMS, ids=["ref", "blocked"])
@pytest.mark.parametrize("M,N,Kd", SHAPES)
def test_sgemm_shapes(fn, M, N, Kd):
    rng = np.random.default_rng(M * 1000 + N * 7 + Kd)
    a, b = rnd(rng, M, Kd), rnd(rng, Kd, N)
    c = np.full((M, N), np.nan, np.float32)
    fn(M, N, Kd, a, Kd, b, N, c, N, False)
    close(c, a.astype(np.float64) @ b, scale=np.sqrt(Kd))


@pytest.mark.parametrize("fn", SGEMMS, ids=["ref", "blocked"])
@pytest.mark.parametrize("M,N,Kd", [(1, 9, 4), (2, 31, 300), (6, 16, 8), (11, 67, 513)])
def test_sgemm_leading_dims_and_accumulate(fn, M, N, Kd):
    """Sub-matrices of bigger row-major buffers (lda/ldb/ldc > cols), C += A*B."""
    rng = np.random.default_rng(1)
    lda, ldb, ldc = Kd + 3, N + 5, N + 2
    A = rnd(rng, M, lda)
    B = rnd(rng, Kd, ldb)
    C0 = rnd(rng, M, ldc)
    C = C0.copy()
    fn(M, N, Kd, A, lda, B, ldb, C, ldc, True)
    want = C0.astype(np.float64)
    want[:, :N] += A[:, :Kd].astype(np.float64) @ B[:, :N]
    close(C, want, scale=np.sqrt(Kd))
    np.testing.assert_array_equal(C[:, N:], C0[:, N:])  # padding columns untouched
    # overwrite mode ignores the old contents
    C = C0.copy()
    fn(M, N, Kd, A, lda, B, ldb, C, ldc, False)
    want = C0.astype(np.float64)
    want[:, :N] = A[:, :Kd].astype(np.float64) @ B[:, :N]
    close(C, want, scale=np.sqrt(Kd))


def test_sgemm_blocked_vs_ref_random():
    rng = np.random.default_rng(42)
    for _ in range(40):
        M, N, Kd = (int(v) for v in rng.integers(1, 90, size=3))
        if rng.random() < 0.3:
            Kd = int(rng.integers(250, 600))  # several K blocks
        a, b = rnd(rng, M, Kd), rnd(rng, Kd, N)
        c0 = rnd(rng, M, N)
        acc = bool(rng.random() < 0.5)
        c1, c2 = c0.copy(), c0.copy()
        K.sgemm_f32_ref(M, N, Kd, a, Kd, b, N, c1, N, acc)
        K.sgemm_f32_blocked(M, N, Kd, a, Kd, b, N, c2, N, acc)
        close(c2, c1, scale=np.sqrt(Kd))


def test_sgemm_errors():
    a = np.zeros((4, 5), np.float32)
    b = np.zeros((5, 6), np.float32)
    c = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, a, 5, b, 6, np.zeros((4, 5), np.float32), 6, False)
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, a.astype(np.float64), 5, b, 6, c, 6, False)
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, np.asfortranarray(a), 5, b, 6, c, 6, False)
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, a, 4, b, 6, c, 6, False)  # lda < K
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, a, 5, b, 6, c[:, :3], 6, False)  # not contiguous
    big = np.zeros(100, np.float32)
    with pytest.raises(ValueError):  # C overlaps A
        K.sgemm_f32_blocked(2, 2, 2, big, 2, b, 6, big, 2, False)
    ro = c.copy()
    ro.setflags(write=False)
    with pytest.raises(ValueError):
        K.sgemm_f32_blocked(4, 6, 5, a, 5, b, 6, ro, 6, False)


# --- Gemm (ONNX) ---------------------------------------------------------------------------

def gemm_np(p, a, b, c):
    A = a.astype(np.float64).reshape((p["k"], p["m"]) if p.get("trans_a") else (p["m"], p["k"]))
    B = b.astype(np.float64).reshape((p["n"], p["k"]) if p.get("trans_b") else (p["k"], p["n"]))
    if p.get("trans_a"):
        A = A.T
    if p.get("trans_b"):
        B = B.T
    y = p.get("alpha", 1.0) * (A @ B)
    if c is not None:
        cc = c.astype(np.float64).reshape(p["c_rows"], p["c_cols"])
        y = y + p.get("beta", 1.0) * np.broadcast_to(cc, y.shape)
    return act_np(p.get("act", (0, 0, 0)), y)


C_FORMS = ["none", "scalar", "row", "col", "full"]


def c_for(form, rng, m, n):
    if form == "none":
        return None, 1, 1
    r, cols = {"scalar": (1, 1), "row": (1, n), "col": (m, 1), "full": (m, n)}[form]
    return rnd(rng, r, cols), r, cols


@pytest.mark.parametrize("blocked", [False, True], ids=["ref", "blocked"])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 1000, 64), (1, 13, 300), (2, 7, 3), (9, 33, 17), (32, 10, 250)])
@pytest.mark.parametrize("form", C_FORMS)
def test_gemm(blocked, m, n, k, form):
    rng = np.random.default_rng(m + 10 * n + 100 * k)
    a, b = rnd(rng, m, k), rnd(rng, k, n)
    c, cr, cc = c_for(form, rng, m, n)
    p = dict(m=m, n=n, k=k, alpha=0.75, beta=-1.5, c_rows=cr, c_cols=cc, act=(K.ACT_NONE, 0, 0))
    y = np.full((m, n), np.nan, np.float32)
    (K.gemm_f32_blocked if blocked else K.gemm_f32_ref)(p, a, b, c, y)
    close(y, gemm_np(p, a, b, c), scale=np.sqrt(k))


@pytest.mark.parametrize("act", ACTS, ids=lambda a: f"act{a[0]}")
@pytest.mark.parametrize("m", [1, 5])
def test_gemm_acts(act, m):
    rng = np.random.default_rng(3)
    n, k = 19, 23
    a, b = rnd(rng, m, k), rnd(rng, k, n)
    c = rnd(rng, 1, n)
    p = dict(m=m, n=n, k=k, alpha=1.0, beta=1.0, c_rows=1, c_cols=n, act=act)
    for fn in (K.gemm_f32_ref, K.gemm_f32_blocked):
        y = np.zeros((m, n), np.float32)
        fn(p, a, b, c, y)
        close(y, gemm_np(p, a, b, c), scale=np.sqrt(k))


@pytest.mark.parametrize("ta,tb", [(0, 1), (1, 0), (1, 1)])
def test_gemm_ref_transposes(ta, tb):
    rng = np.random.default_rng(ta * 2 + tb)
    m, n, k = 7, 11, 13
    a = rnd(rng, k, m) if ta else rnd(rng, m, k)
    b = rnd(rng, n, k) if tb else rnd(rng, k, n)
    c = rnd(rng, m, 1)
    p = dict(m=m, n=n, k=k, trans_a=ta, trans_b=tb, alpha=2.0, beta=0.5, c_rows=m, c_cols=1,
             act=(K.ACT_RELU, 0, 0))
    y = np.zeros((m, n), np.float32)
    K.gemm_f32_ref(p, a, b, c, y)
    close(y, gemm_np(p, a, b, c), scale=np.sqrt(k))
    with pytest.raises(ValueError):
        K.gemm_f32_blocked(p, a, b, c, y)


def test_gemm_beta_zero_and_alpha_zero():
    rng = np.random.default_rng(5)
    m, n, k = 4, 6, 8
    a, b, c = rnd(rng, m, k), rnd(rng, k, n), rnd(rng, m, n)
    for alpha, beta in [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0)]:
        p = dict(m=m, n=n, k=k, alpha=alpha, beta=beta, c_rows=m, c_cols=n)
        for fn in (K.gemm_f32_ref, K.gemm_f32_blocked):
            y = np.full((m, n), 7.0, np.float32)
            fn(p, a, b, c, y)
            close(y, gemm_np(p, a, b, c))


# --- MatMul --------------------------------------------------------------------------------

@pytest.mark.parametrize("blocked", [False, True], ids=["ref", "blocked"])
@pytest.mark.parametrize("batch,m,n,k,abc,bbc", [
    (1, 1, 1, 1, False, False),
    (3, 5, 7, 9, False, False),
    (4, 1, 33, 20, False, True),   # GEMV per batch, shared B
    (4, 6, 17, 30, False, True),   # folds into one GEMM
    (5, 8, 3, 12, True, False),    # shared A
    (2, 50, 40, 300, False, False),
])
def test_matmul(blocked, batch, m, n, k, abc, bbc):
    rng = np.random.default_rng(batch * 31 + m)
    a = rnd(rng, 1 if abc else batch, m, k)
    b = rnd(rng, 1 if bbc else batch, k, n)
    p = dict(batch=batch, m=m, n=n, k=k, a_batch_stride=0 if abc else m * k,
             b_batch_stride=0 if bbc else k * n)
    y = np.full((batch, m, n), np.nan, np.float32)
    (K.matmul_f32_blocked if blocked else K.matmul_f32_ref)(p, a, b, y)
    close(y, np.matmul(a.astype(np.float64), b), scale=np.sqrt(k))


def test_matmul_padded_batch_stride():
    """Batch stride larger than m*k (a slice of a bigger tensor)."""
    rng = np.random.default_rng(9)
    batch, m, n, k = 3, 4, 5, 6
    a_buf = rnd(rng, batch, m * k + 4)
    b = rnd(rng, batch, k, n)
    p = dict(batch=batch, m=m, n=n, k=k, a_batch_stride=m * k + 4, b_batch_stride=k * n)
    y = np.zeros((batch, m, n), np.float32)
    K.matmul_f32_blocked(p, a_buf, b, y)
    a = a_buf[:, : m * k].reshape(batch, m, k).astype(np.float64)
    close(y, a @ b)
    with pytest.raises(ValueError):
        K.matmul_f32_blocked(p, a_buf[:2].copy(), b, y)


# --- the portable (non-AVX2) paths, compiled as plain C++ ----------------------------------

_HARNESS = r"""
#include "kernels/gemm/gemm_blocked.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_ref.h"
#include <cstdio>
#include <cmath>
#include <vector>
using namespace lne;
static unsigned s = 1;
static float r() { s = s * 1664525u + 1013904223u; return ((s >> 8) & 0xffff) / 32768.f - 1.f; }
int main() {
  int bad = 0;
  const int shapes[][3] = {{1,1,1},{3,17,5},{6,16,256},{7,33,300},{13,50,9},{64,200,64},{2,40,70}};
  for (auto& sh : shapes) {
    int M = sh[0], N = sh[1], Kd = sh[2];
    std::vector<float> A(M*Kd), B(Kd*N), C1(M*N), C2(M*N);
    for (auto& v : A) v = r();
    for (auto& v : B) v = r();
    sgemm_f32_ref(M,N,Kd,A.data(),Kd,B.data(),N,C1.data(),N,false);
    sgemm_f32_blocked(M,N,Kd,A.data(),Kd,B.data(),N,C2.data(),N,false);
    for (int i = 0; i < M*N; ++i) if (std::fabs(C1[i]-C2[i]) > 1e-4f*(1+std::fabs(C1[i]))*std::sqrt((float)Kd)) { ++bad; break; }
  }
  ConvParams ps[] = {{1,5,9,11,5,5,6,3,3,2,2,1,1,1,1,5,{ACT_RELU,0,0}},
                     {2,4,8,8,6,8,8,3,3,1,1,1,1,1,1,2,{ACT_NONE,0,0}},
                     {1,3,13,7,3,13,7,5,5,1,1,1,1,2,2,3,{ACT_NONE,0,0}}};
  for (auto& p : ps) {
    int cg = p.c / p.group;
    std::vector<float> x(p.n*p.c*p.h*p.w), w(p.m*cg*p.kh*p.kw), b(p.m), y1(p.n*p.m*p.oh*p.ow), y2(y1.size()), y3(y1.size());
    std::vector<float> sc(conv2d_f32_im2col_scratch(p) + 1);
    for (auto& v : x) v = r();
    for (auto& v : w) v = r();
    for (auto& v : b) v = r();
    conv2d_f32_ref(p, x.data(), w.data(), b.data(), y1.data());
    conv2d_f32_im2col(p, x.data(), w.data(), b.data(), y2.data(), sc.data());
    bool dw = p.group == p.c && p.c == p.m;
    if (dw) conv2d_f32_depthwise(p, x.data(), w.data(), b.data(), y3.data());
    for (size_t i = 0; i < y1.size(); ++i) {
      if (std::fabs(y1[i]-y2[i]) > 1e-4f*(1+std::fabs(y1[i]))) { ++bad; break; }
      if (dw && std::fabs(y1[i]-y3[i]) > 1e-4f*(1+std::fabs(y1[i]))) { ++bad; break; }
    }
  }
  std::printf("%s\n", bad ? "FAIL" : "OK");
  return bad;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("flags", [["-O2"], ["-O2", "-DLNE_DISABLE_SIMD"]], ids=["gnu-vector", "scalar"])
def test_portable_paths_compile_and_match(tmp_path, flags):
    runtime = Path(__file__).resolve().parents[2] / "runtime"
    src = tmp_path / "harness.cpp"
    src.write_text(_HARNESS)
    exe = tmp_path / "harness"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *flags,
                    f"-I{runtime / 'include'}", f"-I{runtime}", str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "OK", out.stdout + out.stderr
