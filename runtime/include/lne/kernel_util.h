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

// Full unrolling of short constant-trip loops (register-blocked micro-kernels: without it GCC
// may keep accumulator arrays in memory).
#if defined(__GNUC__) || defined(__clang__)
#define LNE_UNROLL _Pragma("GCC unroll 16")
#else
#define LNE_UNROLL
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

// 8-lane float vector for kernels written once for every ISA: a GCC/Clang generic vector (one
// AVX register) when AVX is enabled, else a plain struct whose fixed 8-lane loops compilers
// vectorise (two NEON / SSE registers; a 32-byte generic vector there would change the ABI of
// the helpers). Unaligned load / store via memcpy.
#if LNE_HAVE_GNU_VECTOR && defined(__AVX__)
#define LNE_VF8_AVX 1
#include <immintrin.h>
typedef float vf8 __attribute__((vector_size(32)));
inline vf8 vf8_set1(float s) { return vf8{s, s, s, s, s, s, s, s}; }
#else
struct vf8 {
  float v[8];
  float& operator[](int i) { return v[i]; }
  float operator[](int i) const { return v[i]; }
};
#define LNE_VF8_OP(OP)                                                            \
  inline vf8 operator OP(const vf8& a, const vf8& b) {                            \
    vf8 r;                                                                        \
    for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] OP b.v[i];                        \
    return r;                                                                     \
  }                                                                               \
  inline vf8 operator OP(float a, const vf8& b) {                                 \
    vf8 r;                                                                        \
    for (int i = 0; i < 8; ++i) r.v[i] = a OP b.v[i];                             \
    return r;                                                                     \
  }                                                                               \
  inline vf8 operator OP(const vf8& a, float b) {                                 \
    vf8 r;                                                                        \
    for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] OP b;                             \
    return r;                                                                     \
  }                                                                               \
  inline vf8& operator OP##=(vf8& a, const vf8& b) { return a = a OP b; }
LNE_VF8_OP(+)
LNE_VF8_OP(-)
LNE_VF8_OP(*)
LNE_VF8_OP(/)
#undef LNE_VF8_OP
inline vf8 vf8_set1(float s) {
  vf8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = s;
  return r;
}
#endif
#if defined(LNE_VF8_AVX)
// Intrinsics: a memcpy-based unaligned 32-byte access is split into two 16-byte halves under
// GCC's generic tuning.
inline vf8 vf8_load(const float* p) { return (vf8)_mm256_loadu_ps(p); }
inline void vf8_store(float* p, const vf8& v) { _mm256_storeu_ps(p, (__m256)v); }
#else
inline vf8 vf8_load(const float* p) {
  vf8 r;
  std::memcpy(&r, p, sizeof(r));
  return r;
}
inline void vf8_store(float* p, const vf8& v) { std::memcpy(p, &v, sizeof(v)); }
#endif

inline vf8 vf8_max(const vf8& a, const vf8& b) {
#if LNE_HAVE_AVX2_FMA
  return (vf8)_mm256_max_ps((__m256)a, (__m256)b);
#else
  vf8 r;
  for (int l = 0; l < 8; ++l) r[l] = a[l] > b[l] ? a[l] : b[l];
  return r;
#endif
}
inline vf8 vf8_min(const vf8& a, const vf8& b) {
#if LNE_HAVE_AVX2_FMA
  return (vf8)_mm256_min_ps((__m256)a, (__m256)b);
#else
  vf8 r;
  for (int l = 0; l < 8; ++l) r[l] = a[l] < b[l] ? a[l] : b[l];
  return r;
#endif
}

// Activation applied to a vector, the kind fixed at compile time (kernels dispatch once per call):
// kAct = ACT_NONE, ACT_RELU or ACT_CLIP; any other kind is left to act_inplace afterwards.
// vf8_max(a, b) = a > b ? a : b (so is _mm256_max_ps): the value goes second, so a NaN stays NaN
// (apply_act's max_keep_nan / min_keep_nan, lane by lane).
template <int kAct>
inline vf8 vf8_act(const vf8& v, const Act& a) {
  if (kAct == ACT_RELU) return vf8_max(vf8_set1(0.f), v);
  if (kAct == ACT_CLIP) return vf8_min(vf8_set1(a.beta), vf8_max(vf8_set1(a.alpha), v));
  return v;
}
// The kAct a kernel specialises for a runtime kind (-1: none of those, apply act_inplace).
inline int vf8_act_kind(const Act& a) {
  return a.kind == ACT_NONE || a.kind == ACT_RELU || a.kind == ACT_CLIP ? a.kind : -1;
}

// Copy n < 8 floats (non-overlapping), without a loop a compiler could turn into a libc call.
inline void copy_lt8(float* LNE_RESTRICT d, const float* LNE_RESTRICT s, int64_t n) {
  if (n >= 4) {  // two overlapping 4-float moves
    float a[4], b[4];
    std::memcpy(a, s, sizeof(a));
    std::memcpy(b, s + n - 4, sizeof(b));
    std::memcpy(d, a, sizeof(a));
    std::memcpy(d + n - 4, b, sizeof(b));
  } else {
    if (n > 0) d[0] = s[0];
    if (n > 1) d[1] = s[1];
    if (n > 2) d[2] = s[2];
  }
}

// Copy n floats (non-overlapping) for the short rows kernels stage: straight-line 8-lane moves
// (the last one overlapping the previous) up to 64 floats, since compilers turn copy loops into
// libc calls that cost more than such a copy; longer runs go to memcpy.
inline void copy_short(float* LNE_RESTRICT d, const float* LNE_RESTRICT s, int64_t n) {
  if (n >= 64) {
    std::memcpy(d, s, (size_t)n * sizeof(float));
  } else if (n >= 8) {
#define LNE_COPY8(k) \
  if (n >= 8 * (k) + 8) vf8_store(d + 8 * (k), vf8_load(s + 8 * (k)))
    LNE_COPY8(0);
    LNE_COPY8(1);
    LNE_COPY8(2);
    LNE_COPY8(3);
    LNE_COPY8(4);
    LNE_COPY8(5);
    LNE_COPY8(6);
#undef LNE_COPY8
    if (n % 8) vf8_store(d + n - 8, vf8_load(s + n - 8));
  } else {
    copy_lt8(d, s, n);
  }
}

// y[i] = act(x[i]) over a contiguous run (y may equal x), the activation switch hoisted out of
// the loop so that each case vectorises.
inline void act_map(const Act& a, int64_t n, const float* x, float* y) {
  switch (a.kind) {
    case ACT_NONE:
      if (x != y)
        for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      return;
    case ACT_RELU:  // NaN stays NaN (apply_act); vectorises to maxps(0, x)
      for (int64_t i = 0; i < n; ++i) y[i] = max_keep_nan(0.f, x[i]);
      return;
    case ACT_CLIP: {
      const float lo = a.alpha, hi = a.beta;
      for (int64_t i = 0; i < n; ++i) y[i] = min_keep_nan(hi, max_keep_nan(lo, x[i]));
      return;
    }
    case ACT_LEAKY_RELU: {
      const float s = a.alpha;
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : s * x[i];
      return;
    }
    case ACT_HARD_SIGMOID: {
      const float al = a.alpha, be = a.beta;
      for (int64_t i = 0; i < n; ++i) y[i] = max_keep_nan(0.f, min_keep_nan(1.f, al * x[i] + be));
      return;
    }
    case ACT_HARD_SWISH:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = v * max_keep_nan(0.f, min_keep_nan(1.f, v / 6.f + 0.5f));
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
