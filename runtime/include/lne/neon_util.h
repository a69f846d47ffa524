// LNE runtime: helpers shared by the NEON kernels (runtime/kernels/*/*_neon.h).
//
// The whole header is empty unless the compiler targets NEON (__ARM_NEON: every AArch64 build,
// and 32-bit Arm built with -mfpu=neon*), so an x86 build never sees <arm_neon.h>. AArch64 and
// 32-bit Arm differ in a few instructions (vector divide, FMA by lane); the wrappers here hide that.
// 32-bit NEON flushes denormals to zero: results may differ from the scalar kernels there by
// values below 1.2e-38.
#pragma once
#if defined(__ARM_NEON)
#include <arm_neon.h>

#include "lne/common.h"
#include "lne/kernel_util.h"

#if defined(__GNUC__) || defined(__clang__)
#define LNE_NEON_UNROLL _Pragma("GCC unroll 16")
#else
#define LNE_NEON_UNROLL
#endif

namespace lne {
namespace neon {

typedef float32x4_t f4;

inline f4 dup(float s) { return vdupq_n_f32(s); }

// acc + a * b (fused where the ISA has it).
inline f4 fma(f4 acc, f4 a, f4 b) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmaq_f32(acc, a, b);
#else
  return vmlaq_f32(acc, a, b);
#endif
}
inline f4 fma_n(f4 acc, f4 a, float s) { return fma(acc, a, vdupq_n_f32(s)); }

inline f4 div(f4 a, f4 b) {
#if defined(__aarch64__)
  return vdivq_f32(a, b);
#else  // reciprocal estimate + two Newton-Raphson steps (~1 ulp)
  f4 r = vrecpeq_f32(b);
  r = vmulq_f32(r, vrecpsq_f32(b, r));
  r = vmulq_f32(r, vrecpsq_f32(b, r));
  return vmulq_f32(a, r);
#endif
}

// exp(x), relative error ~2e-7 on [-87, 88]; inputs are clamped to that range.
inline f4 exp(f4 x) {
  x = vminq_f32(vmaxq_f32(x, dup(-87.3f)), dup(88.3f));
  const f4 t = fma(dup(0.5f), x, dup(1.44269504088896341f));  // x / ln2 + 0.5
  int32x4_t n = vcvtq_s32_f32(t);                              // truncation ...
  const uint32x4_t over = vcgtq_f32(vcvtq_f32_s32(n), t);      // ... fixed up to floor(t)
  n = vsubq_s32(n, vreinterpretq_s32_u32(vandq_u32(over, vdupq_n_u32(1))));
  const f4 nf = vcvtq_f32_s32(n);
  f4 r = fma(x, nf, dup(-0.693359375f));  // x - n*ln2 in two steps (Cody-Waite)
  r = fma(r, nf, dup(2.12194440e-4f));
  f4 p = dup(1.9875691500e-4f);
  p = fma(dup(1.3981999507e-3f), p, r);
  p = fma(dup(8.3334519073e-3f), p, r);
  p = fma(dup(4.1665795894e-2f), p, r);
  p = fma(dup(1.6666665459e-1f), p, r);
  p = fma(dup(5.0000001201e-1f), p, r);
  p = fma(vaddq_f32(r, dup(1.f)), p, vmulq_f32(r, r));
  const int32x4_t scale = vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23);  // 2^n
  return vmulq_f32(p, vreinterpretq_f32_s32(scale));
}

inline f4 sigmoid(f4 x) {
  const f4 one = dup(1.f);
  return div(one, vaddq_f32(one, exp(vnegq_f32(x))));
}

// tanh: odd polynomial for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1), sign restored.
inline f4 tanh(f4 x) {
  const f4 ax = vabsq_f32(x);
  const f4 z = vmulq_f32(x, x);
  f4 p = dup(-5.70498872745e-3f);
  p = fma(dup(2.06390887954e-2f), p, z);
  p = fma(dup(-5.37397155531e-2f), p, z);
  p = fma(dup(1.33314422036e-1f), p, z);
  p = fma(dup(-3.33332819422e-1f), p, z);
  const f4 small = fma(x, vmulq_f32(p, z), x);
  const f4 e = exp(vaddq_f32(ax, ax));
  f4 big = vsubq_f32(dup(1.f), div(dup(2.f), vaddq_f32(e, dup(1.f))));
  const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
  big = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(big), sign));
  return vbslq_f32(vcltq_f32(ax, dup(0.625f)), small, big);
}

// Identity input transform for map(); Affine computes x * s + b first.
struct Plain {
  f4 operator()(f4 v) const { return v; }
  float operator()(float v) const { return v; }
};
struct Affine {
  float s, b;
  f4 operator()(f4 v) const { return fma(dup(b), v, dup(s)); }
  float operator()(float v) const { return v * s + b; }
};

// y[i] = F(pre(x[i])) for i < n: four lanes at a time, the tail with the scalar form.
template <class Pre, class FV, class FS>
inline void map_loop(int64_t n, const float* x, float* y, Pre pre, FV fv, FS fs) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const f4 v0 = fv(pre(vld1q_f32(x + i)));
    const f4 v1 = fv(pre(vld1q_f32(x + i + 4)));
    vst1q_f32(y + i, v0);
    vst1q_f32(y + i + 4, v1);
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, fv(pre(vld1q_f32(x + i))));
  for (; i < n; ++i) y[i] = fs(pre(x[i]));
}

// max_keep_nan(lo, v) = lo > v ? lo : v and min_keep_nan(hi, v) = hi < v ? hi : v, four lanes:
// NaN stays NaN and the result is bit for bit apply_act's (vmaxq_f32 would give +0 for -0).
inline f4 max_keep_nan(f4 lo, f4 v) { return vbslq_f32(vcgtq_f32(lo, v), lo, v); }
inline f4 min_keep_nan(f4 hi, f4 v) { return vbslq_f32(vcltq_f32(hi, v), hi, v); }

// y[i] = act(pre(x[i])) over a contiguous run (y may equal x); the switch is outside the loops.
template <class Pre>
inline void act_map(const Act& a, int64_t n, const float* x, float* y, Pre pre) {
  const f4 zero = dup(0.f), one = dup(1.f), al = dup(a.alpha), be = dup(a.beta);
  switch (a.kind) {
    case ACT_NONE:
      map_loop(n, x, y, pre, [](f4 v) { return v; }, [](float v) { return v; });
      return;
    case ACT_RELU:
      map_loop(n, x, y, pre, [=](f4 v) { return max_keep_nan(zero, v); },
               [](float v) { return lne::max_keep_nan(0.f, v); });
      return;
    case ACT_CLIP:
      map_loop(n, x, y, pre, [=](f4 v) { return min_keep_nan(be, max_keep_nan(al, v)); },
               [&](float v) { return apply_act(a, v); });
      return;
    case ACT_LEAKY_RELU:
      map_loop(n, x, y, pre, [=](f4 v) { return vbslq_f32(vcgeq_f32(v, zero), v, vmulq_f32(v, al)); },
               [&](float v) { return apply_act(a, v); });
      return;
    case ACT_SIGMOID:
      map_loop(n, x, y, pre, [](f4 v) { return sigmoid(v); }, [&](float v) { return apply_act(a, v); });
      return;
    case ACT_TANH:
      map_loop(n, x, y, pre, [](f4 v) { return tanh(v); }, [&](float v) { return apply_act(a, v); });
      return;
    case ACT_HARD_SIGMOID:
      map_loop(n, x, y, pre, [=](f4 v) { return max_keep_nan(zero, min_keep_nan(one, fma(be, al, v))); },
               [&](float v) { return apply_act(a, v); });
      return;
    case ACT_HARD_SWISH: {
      const f4 sixth = dup(1.f / 6.f), half = dup(0.5f);
      map_loop(n, x, y, pre,
               [=](f4 v) { return vmulq_f32(v, max_keep_nan(zero, min_keep_nan(one, fma(half, v, sixth)))); },
               [&](float v) { return apply_act(a, v); });
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = apply_act(a, pre(x[i]));
      return;
  }
}

inline void act_inplace(const Act& a, int64_t n, float* y) {
  if (a.kind != ACT_NONE) act_map(a, n, y, y, Plain{});
}

}  // namespace neon
}  // namespace lne

#endif  // __ARM_NEON
