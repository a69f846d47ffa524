"""The portable (non-AVX2) paths of the fast kernels, compiled as plain C++ with warnings as
errors: Winograd F(2,3) / F(4,3) / F(2,5), the depthwise plane path, the pooling fast paths and
the strided im2col gathers against the reference kernels, with GCC generic vectors (-O2 on
x86-64: SSE) and with SIMD disabled."""
import shutil
import subprocess
from pathlib import Path

import pytest

_HARNESS = r"""
#include "kernels/conv/conv_ref.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_winograd.h"
#include "kernels/pool/pool_fast.h"
#include <cmath>
#include <cstdio>
#include <vector>
using namespace lne;
static unsigned s = 1;
static float rnd() { s = s * 1664525u + 1013904223u; return ((s >> 8) & 0xffff) / 32768.f - 1.f; }
static std::vector<float> rv(size_t n) { std::vector<float> v(n); for (auto& x : v) x = rnd(); return v; }
static bool close(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  for (size_t i = 0; i < a.size(); ++i) if (std::fabs(a[i] - b[i]) > tol * (1 + std::fabs(a[i]))) return false;
  return true;
}
int main() {
  int bad = 0;
  // Winograd: (mt, r), odd sizes and pads, groups, m not a multiple of 16
  const int wv[3][2] = {{2, 3}, {4, 3}, {2, 5}};
  for (auto& v : wv) for (int h : {1, 6, 11}) for (int w : {2, 9, 21}) for (int g : {1, 2}) {
    const int mt = v[0], r = v[1], pad = r / 2 + (h % 2), c = 6, m = 18;
    const int oh = h + 2 * pad - r + 1, ow = w + 2 * pad - r + 1;
    if (oh < 1 || ow < 1) continue;
    ConvParams p{1, c, h, w, m, oh, ow, r, r, 1, 1, 1, 1, pad, pad, g, {ACT_RELU, 0, 0}};
    auto x = rv((size_t)c * h * w), wt = rv((size_t)m * (c / g) * r * r), b = rv(m);
    std::vector<float> y0((size_t)m * oh * ow), y1(y0.size());
    std::vector<float> u(winograd_f32_weights_size(m, c / g, mt, r, g)), sc(winograd_f32_scratch(p, mt));
    winograd_f32_transform_weights(mt, r, m, c / g, wt.data(), u.data(), g);
    conv2d_f32_ref(p, x.data(), wt.data(), b.data(), y0.data());
    if (r == 5) conv2d_f32_winograd_f25(p, x.data(), u.data(), b.data(), y1.data(), sc.data());
    else if (mt == 2) conv2d_f32_winograd_f23(p, x.data(), u.data(), b.data(), y1.data(), sc.data());
    else conv2d_f32_winograd_f43(p, x.data(), u.data(), b.data(), y1.data(), sc.data());
    if (!close(y0, y1, 1e-3f)) { ++bad; std::printf("winograd F(%d,%d) %dx%d g%d\n", mt, r, h, w, g); }
  }
  // depthwise plane path and strided im2col
  for (int k : {3, 5}) for (int st : {1, 2}) for (int h : {1, 7, 20}) for (int w : {3, 8, 19}) {
    const int pad = k / 2, oh = (h + 2 * pad - k) / st + 1, ow = (w + 2 * pad - k) / st + 1;
    if (oh < 1 || ow < 1) continue;
    ConvParams p{2, 3, h, w, 3, oh, ow, k, k, st, st, 1, 1, pad, pad, 3, {ACT_CLIP, 0, 1.5f}};
    auto x = rv((size_t)6 * h * w), wt = rv((size_t)3 * k * k), b = rv(3);
    std::vector<float> y0((size_t)6 * oh * ow), y1(y0.size());
    conv2d_f32_ref(p, x.data(), wt.data(), b.data(), y0.data());
    conv2d_f32_depthwise(p, x.data(), wt.data(), b.data(), y1.data());
    if (!close(y0, y1, 1e-4f)) { ++bad; std::printf("dw k%d s%d %dx%d\n", k, st, h, w); }
    ConvParams q = p;
    q.group = 1;
    q.m = 4;
    auto wq = rv((size_t)4 * 3 * k * k);
    std::vector<float> z0((size_t)2 * 4 * oh * ow), z1(z0.size()), sc(conv2d_f32_im2col_scratch(q) + 1);
    conv2d_f32_ref(q, x.data(), wq.data(), nullptr, z0.data());
    conv2d_f32_im2col(q, x.data(), wq.data(), nullptr, z1.data(), sc.data());
    if (!close(z0, z1, 1e-4f)) { ++bad; std::printf("im2col k%d s%d %dx%d\n", k, st, h, w); }
  }
  // pooling fast paths, ceil-mode overhang and both average divisors
  for (int k : {2, 3}) for (int st : {1, 2}) for (int h : {1, 9, 14}) for (int w : {2, 7, 30}) for (int cip : {0, 1}) {
    const int pad = k - 1, num_h = h + 2 * pad - k, num_w = w + 2 * pad - k;
    if (num_h < 0 || num_w < 0) continue;
    int oh = (num_h + st - 1) / st + 1, ow = (num_w + st - 1) / st + 1;
    if ((oh - 1) * st >= h + pad) --oh;
    if ((ow - 1) * st >= w + pad) --ow;
    PoolParams p{1, 3, h, w, oh, ow, k, k, st, st, 1, 1, pad, pad, pad, pad, cip};
    auto x = rv((size_t)3 * h * w);
    std::vector<float> a((size_t)3 * oh * ow), b(a.size());
    maxpool2d_f32_ref(p, x.data(), a.data());
    maxpool2d_f32_fast(p, x.data(), b.data());
    if (!close(a, b, 0.f)) { ++bad; std::printf("maxpool k%d s%d %dx%d\n", k, st, h, w); }
    avgpool2d_f32_ref(p, x.data(), a.data());
    avgpool2d_f32_fast(p, x.data(), b.data());
    if (!close(a, b, 1e-5f)) { ++bad; std::printf("avgpool k%d s%d %dx%d cip%d\n", k, st, h, w, cip); }
  }
  std::printf("%s\n", bad ? "FAIL" : "OK");
  return bad;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("flags", [["-O2"], ["-O2", "-DLNE_DISABLE_SIMD"]], ids=["gnu-vector", "scalar"])
def test_fast_kernels_portable_paths(tmp_path, flags):
    runtime = Path(__file__).resolve().parents[2] / "runtime"
    src = tmp_path / "harness.cpp"
    src.write_text(_HARNESS)
    exe = tmp_path / "harness"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *flags,
                    f"-I{runtime / 'include'}", f"-I{runtime}", str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("OK"), out.stdout + out.stderr
