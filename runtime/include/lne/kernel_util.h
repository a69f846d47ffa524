// LNE runtime: small helpers shared by the kernel headers (runtime/kernels/...). Dependency-free C++17.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lne/common.h"

#if defined(__GNUC__) || defined(__clang__)
#define LNE_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define LNE_RESTRICT __restrict
#else
#define LNE_RESTRICT
#endif

// SIMD selection. Define LNE_DISABLE_SIMD to force the plain C++ paths (used by the tests).
#if defined(__AVX2__) && defined(__FMA__) && !defined(LNE_DISABLE_SIMD)
#define LNE_HAVE_AVX2_FMA 1
#include <immintrin.h>
#else
#define LNE_HAVE_AVX2_FMA 0
#endif
// GCC/Clang generic vectors (lowered to NEON on Arm, SSE on plain x86-64).
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LNE_DISABLE_SIMD)
#define LNE_HAVE_GNU_VECTOR 1
#else
#define LNE_HAVE_GNU_VECTOR 0
#endif

namespace lne {
namespace detail {

// Floor / ceil division for a possibly negative numerator and a positive denominator.
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t ceil_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a > 0) ? q + 1 : q;
}

// Range [lo, hi) of output positions o in [0, out_len) for which
// i = o * stride + offset lies inside [0, in_len). Returns hi <= lo when empty.
inline void valid_range(int64_t out_len, int64_t stride, int64_t offset, int64_t in_len,
                        int64_t* lo, int64_t* hi) {
  int64_t l = ceil_div(-offset, stride);
  int64_t h = floor_div(in_len - 1 - offset, stride) + 1;
  if (l < 0) l = 0;
  if (h > out_len) h = out_len;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

// y[i] = act(x[i]) over a contiguous run (y may equal x), the activation switch hoisted out of
// the loop so that each case vectorises.
inline void act_map(const Act& a, int64_t n, const float* x, float* y) {
  switch (a.kind) {
    case ACT_NONE:
      if (x != y)
        for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      return;
    case ACT_RELU:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
      return;
    case ACT_CLIP: {
      const float lo = a.alpha, hi = a.beta;
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
      return;
    }
    case ACT_LEAKY_RELU: {
      const float s = a.alpha;
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : s * x[i];
      return;
    }
    case ACT_HARD_SIGMOID: {
      const float al = a.alpha, be = a.beta;
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(0.f, std::min(1.f, al * x[i] + be));
      return;
    }
    case ACT_HARD_SWISH:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f));
      }
      return;
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = apply_act(a, x[i]);
      return;
  }
}

// y[i] = act(y[i]) over a contiguous run.
inline void act_inplace(const Act& a, int64_t n, float* y) {
  if (a.kind != ACT_NONE) act_map(a, n, y, y);
}

// y[i] = act(x[i] * s + b) over a contiguous run (y may equal x).
inline void affine_act(const Act& a, int64_t n, const float* x, float s, float b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s + b;
  act_inplace(a, n, y);
}

}  // namespace detail
}  // namespace lne
