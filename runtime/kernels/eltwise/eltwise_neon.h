// LNE runtime: NEON element-wise kernels, same contracts as unary_ref.h, binary_ref.h and
// channel_affine_ref.h: activations (vector exp for Sigmoid / Tanh), broadcasting binary ops,
// per-channel affine. Without NEON this header is empty.
#pragma once
#if defined(__ARM_NEON)
#include <utility>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "lne/neon_util.h"
#include "kernels/eltwise/binary_ref.h"

namespace lne {

// y[i] = act(x[i]) for i < n; y may equal x.
inline void unary_f32_neon(const Act& a, int64_t n, const float* x, float* y) {
  neon::act_map(a, n, x, y, neon::Plain{});
}

// y[n,c,i] = act(x[n,c,i] * scale[c] + bias[c]); y may equal x.
inline void channel_affine_f32_neon(int32_t n, int32_t c, int64_t inner, const float* x, const float* scale,
                                    const float* bias, const Act& act, float* y) {
  for (int32_t nn = 0; nn < n; ++nn) {
    for (int32_t cc = 0; cc < c; ++cc) {
      const int64_t off = ((int64_t)nn * c + cc) * inner;
      neon::act_map(act, inner, x + off, y + off, neon::Affine{scale[cc], bias[cc]});
    }
  }
}

namespace detail {

// Each op in scalar (as binary_ref.h) and vector form.
struct NeonAdd {
  static float f(float a, float b) { return a + b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) { return vaddq_f32(a, b); }
};
struct NeonSub {
  static float f(float a, float b) { return a - b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) { return vsubq_f32(a, b); }
};
struct NeonMul {
  static float f(float a, float b) { return a * b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) { return vmulq_f32(a, b); }
};
struct NeonDiv {
  static float f(float a, float b) { return a / b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) { return neon::div(a, b); }
};
struct NeonPrelu {
  static float f(float a, float b) { return a >= 0.f ? a : a * b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) {
    return vbslq_f32(vcgeq_f32(a, vdupq_n_f32(0.f)), a, vmulq_f32(a, b));
  }
};
// Max / Min: a NaN in either operand gives NaN (onnxruntime, numpy), as BinMax / BinMin.
struct NeonMax {
  static float f(float a, float b) { return a > b || a != a ? a : b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) {
    return vbslq_f32(vorrq_u32(vcgtq_f32(a, b), vmvnq_u32(vceqq_f32(a, a))), a, b);
  }
};
struct NeonMin {
  static float f(float a, float b) { return a < b || a != a ? a : b; }
  static float32x4_t v(float32x4_t a, float32x4_t b) {
    return vbslq_f32(vorrq_u32(vcltq_f32(a, b), vmvnq_u32(vceqq_f32(a, a))), a, b);
  }
};

// One inner row: unit / zero strides in vectors, anything else scalar.
template <class Op>
inline void neon_binary_row(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* y) {
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Op::v(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; ++i) y[i] = Op::f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float32x4_t bv = vdupq_n_f32(b[0]);
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Op::v(vld1q_f32(a + i), bv));
    for (; i < n; ++i) y[i] = Op::f(a[i], b[0]);
  } else if (sa == 0 && sb == 1) {
    const float32x4_t av = vdupq_n_f32(a[0]);
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Op::v(av, vld1q_f32(b + i)));
    for (; i < n; ++i) y[i] = Op::f(a[0], b[i]);
  } else {
    for (; i < n; ++i) y[i] = Op::f(a[i * sa], b[i * sb]);
  }
}

// The broadcast walk of binary_ref.h (binary_rows), NEON rows.
template <class Op>
inline void neon_binary_run(const BinaryParams& p, const float* a, const float* b, float* y) {
  binary_rows(p, [&](int64_t ao, int64_t as, int64_t bo, int64_t bs, int64_t n, int64_t yo) {
    neon_binary_row<Op>(n, a + ao, as, b + bo, bs, y + yo);
    neon::act_inplace(p.act, n, y + yo);
  });
}

}  // namespace detail

// y = act(a op b) with broadcasting given by the strides; y may alias a non-broadcast operand.
inline void binary_f32_neon(const BinaryParams& p, const float* a, const float* b, float* y) {
  using namespace detail;
  switch (p.kind) {
    case BIN_ADD: neon_binary_run<NeonAdd>(p, a, b, y); break;
    case BIN_SUB: neon_binary_run<NeonSub>(p, a, b, y); break;
    case BIN_MUL: neon_binary_run<NeonMul>(p, a, b, y); break;
    case BIN_DIV: neon_binary_run<NeonDiv>(p, a, b, y); break;
    case BIN_PRELU: neon_binary_run<NeonPrelu>(p, a, b, y); break;
    case BIN_MAX: neon_binary_run<NeonMax>(p, a, b, y); break;
    case BIN_MIN: neon_binary_run<NeonMin>(p, a, b, y); break;
    default: break;
  }
}

}  // namespace lne

#endif  // __ARM_NEON
