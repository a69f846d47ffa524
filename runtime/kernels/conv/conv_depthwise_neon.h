// LNE runtime: NEON direct depthwise 2-D convolution (group == c == m), no scratch.
//
// Per output row, the kernel rows inside the image are found once (taps above / below the image
// add zero and are skipped). Output columns whose whole window is inside the image row (the
// interior) are computed 8 and 4 at a time: stride 1 reads each tap as one contiguous vector,
// stride 2 as the even lanes of a de-interleaving load (vld2q); any dilation. Border columns, and
// every column for strides > 2, take the scalar path with bounds checks. Then the activation.
// Same contract as conv2d_f32_depthwise (conv_depthwise.h). Without NEON this header is empty.
#pragma once
#if defined(__ARM_NEON)
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "lne/neon_util.h"
#include "kernels/conv/conv_params.h"

namespace lne {
namespace detail {

template <int SW>
inline float32x4_t neon_dw_load4(const float* s) {
  if (SW == 1) return vld1q_f32(s);
  return vld2q_f32(s).val[0];  // s[0], s[2], s[4], s[6] (reads s[0..7])
}

// One output with bounds checks; rows [ky0, ky1) are inside the image.
inline float neon_dw_point(const ConvParams& p, const float* xc, const float* wc, float b, int64_t iy0,
                      int64_t ky0, int64_t ky1, int64_t ox) {
  float acc = b;
  const int64_t ix0 = ox * p.sw - p.pl;
  for (int64_t ky = ky0; ky < ky1; ++ky) {
    const float* xr = xc + (iy0 + ky * p.dh) * p.w;
    const float* wr = wc + ky * p.kw;
    for (int32_t kx = 0; kx < p.kw; ++kx) {
      const int64_t ix = ix0 + (int64_t)kx * p.dw;
      if (ix >= 0 && ix < p.w) acc += wr[kx] * xr[ix];
    }
  }
  return acc;
}

// Interior columns [lo, hi) of one output row, 8 then 4 at a time; returns the first column
// not computed (the caller finishes the row with the scalar path).
template <int SW>
inline int64_t neon_dw_row_vec(const ConvParams& p, const float* xc, const float* wc, float b, int64_t iy0,
                          int64_t ky0, int64_t ky1, int64_t lo, int64_t hi, float* LNE_RESTRICT yr) {
  // stride 2 loads read one float past the last tap: keep one output of slack before hi
  const int64_t end = SW == 1 ? hi : hi - 1;
  const float32x4_t bv = vdupq_n_f32(b);
  int64_t ox = lo;
  for (; ox + 8 <= end; ox += 8) {
    float32x4_t a0 = bv, a1 = bv;
    for (int64_t ky = ky0; ky < ky1; ++ky) {
      const float* s = xc + (iy0 + ky * p.dh) * p.w + ox * SW - p.pl;
      const float* wr = wc + ky * p.kw;
      for (int32_t kx = 0; kx < p.kw; ++kx, s += p.dw) {
        a0 = neon::fma_n(a0, neon_dw_load4<SW>(s), wr[kx]);
        a1 = neon::fma_n(a1, neon_dw_load4<SW>(s + 4 * SW), wr[kx]);
      }
    }
    vst1q_f32(yr + ox, a0);
    vst1q_f32(yr + ox + 4, a1);
  }
  for (; ox + 4 <= end; ox += 4) {
    float32x4_t a0 = bv;
    for (int64_t ky = ky0; ky < ky1; ++ky) {
      const float* s = xc + (iy0 + ky * p.dh) * p.w + ox * SW - p.pl;
      const float* wr = wc + ky * p.kw;
      for (int32_t kx = 0; kx < p.kw; ++kx, s += p.dw) a0 = neon::fma_n(a0, neon_dw_load4<SW>(s), wr[kx]);
    }
    vst1q_f32(yr + ox, a0);
  }
  return ox;
}

}  // namespace detail

// Precondition: group == c == m. x [n,c,h,w], w [c,1,kh,kw], bias [c] or nullptr, y [n,c,oh,ow].
inline void conv2d_f32_depthwise_neon(const ConvParams& p, const float* x, const float* w, const float* bias,
                                      float* y) {
  using namespace detail;
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  // interior: every tap column inside the image (first tap from lo on, last tap before hi)
  int64_t lo, hi, lo_last, hi_first;
  valid_range(p.ow, p.sw, -(int64_t)p.pl, p.w, &lo, &hi_first);
  valid_range(p.ow, p.sw, (int64_t)(p.kw - 1) * p.dw - p.pl, p.w, &lo_last, &hi);
  if (hi > p.ow) hi = p.ow;  // (hi < lo: no interior, the vector loops do not run)
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t ch = 0; ch < p.c; ++ch) {
      const float* xc = x + ((int64_t)nn * p.c + ch) * hw;
      const float* wc = w + (int64_t)ch * p.kh * p.kw;
      float* yc = y + ((int64_t)nn * p.c + ch) * ohw;
      const float b = bias ? bias[ch] : 0.f;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        float* yr = yc + (int64_t)oy * p.ow;
        const int64_t iy0 = (int64_t)oy * p.sh - p.pt;
        int64_t ky0, ky1;  // kernel rows inside the image
        valid_range(p.kh, p.dh, iy0, p.h, &ky0, &ky1);
        int64_t ox = 0;
        for (; ox < lo && ox < p.ow; ++ox) yr[ox] = neon_dw_point(p, xc, wc, b, iy0, ky0, ky1, ox);
        if (p.sw == 1) ox = neon_dw_row_vec<1>(p, xc, wc, b, iy0, ky0, ky1, ox, hi, yr);
        else if (p.sw == 2) ox = neon_dw_row_vec<2>(p, xc, wc, b, iy0, ky0, ky1, ox, hi, yr);
        for (; ox < p.ow; ++ox) yr[ox] = neon_dw_point(p, xc, wc, b, iy0, ky0, ky1, ox);
        neon::act_inplace(p.act, p.ow, yr);
      }
    }
  }
}

}  // namespace lne

#endif  // __ARM_NEON
