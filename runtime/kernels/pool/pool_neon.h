// LNE runtime: NEON max / average pooling and global pooling (NCHW, fp32), same contracts as
// pool_ref.h. For each output row the kernel rows inside the image are found once; output
// columns whose window lies inside the image row (the interior) are computed 4 at a time
// (stride 1: contiguous loads, stride 2: de-interleaving vld2q; any dilation), border columns
// by the scalar formula of pool_ref.h. Strides > 2 use the portable kernels.
// Max pooling uses vmaxq (a NaN in the window gives NaN). Without NEON this header is empty.
#pragma once
#if defined(__ARM_NEON)
#include <limits>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "lne/neon_util.h"
#include "kernels/pool/pool_ref.h"

namespace lne {
namespace detail {

template <int SW>
inline float32x4_t neon_pool_load4(const float* s) {
  if (SW == 1) return vld1q_f32(s);
  return vld2q_f32(s).val[0];  // reads s[0..7]
}

// Output columns [lo, hi) whose every tap column is inside [0, w).
inline void neon_pool_interior(const PoolParams& p, int64_t* lo, int64_t* hi) {
  int64_t a, b;
  valid_range(p.ow, p.sw, -(int64_t)p.pl, p.w, lo, &a);
  valid_range(p.ow, p.sw, (int64_t)(p.kw - 1) * p.dw - p.pl, p.w, &b, hi);
  if (*hi > p.ow) *hi = p.ow;
}

// Max (Avg = false) or sum (Avg = true) over rows [ky0, ky1) of the interior columns from ox0,
// 4 at a time; returns the first column not computed. Sums are divided by cnt.
template <int SW, bool Avg>
inline int64_t neon_pool_row_vec(const PoolParams& p, const float* xc, int64_t iy0, int64_t ky0, int64_t ky1,
                            int64_t ox0, int64_t hi, float cnt, float* LNE_RESTRICT yr) {
  const int64_t end = SW == 1 ? hi : hi - 1;  // stride 2 reads one float past the last tap
  const float32x4_t init = vdupq_n_f32(Avg ? 0.f : -std::numeric_limits<float>::infinity());
  const float32x4_t vcnt = vdupq_n_f32(cnt);
  int64_t ox = ox0;
  for (; ox + 4 <= end; ox += 4) {
    float32x4_t acc = init;
    for (int64_t ky = ky0; ky < ky1; ++ky) {
      const float* s = xc + (iy0 + ky * p.dh) * p.w + ox * SW - p.pl;
      for (int32_t kx = 0; kx < p.kw; ++kx, s += p.dw) {
        const float32x4_t v = neon_pool_load4<SW>(s);
        acc = Avg ? vaddq_f32(acc, v) : vmaxq_f32(acc, v);
      }
    }
    if (Avg) acc = cnt > 0.f ? neon::div(acc, vcnt) : vdupq_n_f32(0.f);
    vst1q_f32(yr + ox, acc);
  }
  return ox;
}

// One max-pool output, as maxpool2d_f32_ref.
inline float neon_maxpool_point(const PoolParams& p, const float* xc, int64_t iy0, int64_t ky0, int64_t ky1,
                           int64_t ox) {
  int64_t kx0, kx1;
  const int64_t ix0 = ox * p.sw - p.pl;
  valid_range(p.kw, p.dw, ix0, p.w, &kx0, &kx1);
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t ky = ky0; ky < ky1; ++ky) {
    const float* r = xc + (iy0 + ky * p.dh) * p.w + ix0;
    for (int64_t kx = kx0; kx < kx1; ++kx) m = r[kx * p.dw] > m ? r[kx * p.dw] : m;
  }
  return m;
}

// One average-pool output, as avgpool2d_f32_ref; prow = kernel rows inside the padded extent.
inline float neon_avgpool_point(const PoolParams& p, const float* xc, int64_t iy0, int64_t ky0, int64_t ky1,
                           int64_t prow, int64_t ox) {
  const int64_t ix0 = ox * p.sw - p.pl;
  int64_t kx0, kx1, px0, px1;
  valid_range(p.kw, p.dw, ix0, p.w, &kx0, &kx1);
  valid_range(p.kw, p.dw, ix0 + p.pl, (int64_t)p.w + p.pl + p.pr, &px0, &px1);
  float s = 0.f;
  for (int64_t ky = ky0; ky < ky1; ++ky) {
    const float* r = xc + (iy0 + ky * p.dh) * p.w + ix0;
    for (int64_t kx = kx0; kx < kx1; ++kx) s += r[kx * p.dw];
  }
  const int64_t cnt = p.count_include_pad ? prow * (px1 - px0) : (ky1 - ky0) * (kx1 - kx0);
  return cnt > 0 ? s / (float)cnt : 0.f;
}

template <bool Avg>
inline void neon_pool2d(const PoolParams& p, const float* x, float* y) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t planes = (int64_t)p.n * p.c;
  int64_t lo, hi;
  neon_pool_interior(p, &lo, &hi);
  for (int64_t pc = 0; pc < planes; ++pc) {
    const float* xc = x + pc * hw;
    float* yc = y + pc * ohw;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      float* yr = yc + (int64_t)oy * p.ow;
      const int64_t iy0 = (int64_t)oy * p.sh - p.pt;
      int64_t ky0, ky1, py0 = 0, py1 = 0;
      valid_range(p.kh, p.dh, iy0, p.h, &ky0, &ky1);
      if (Avg) valid_range(p.kh, p.dh, iy0 + p.pt, (int64_t)p.h + p.pt + p.pb, &py0, &py1);
      // interior columns: the window's kw taps are all inside the image and the padded extent
      const float cnt = (float)((p.count_include_pad ? py1 - py0 : ky1 - ky0) * p.kw);
      auto point = [&](int64_t o) {
        return Avg ? neon_avgpool_point(p, xc, iy0, ky0, ky1, py1 - py0, o)
                   : neon_maxpool_point(p, xc, iy0, ky0, ky1, o);
      };
      int64_t ox = 0;
      for (; ox < lo && ox < p.ow; ++ox) yr[ox] = point(ox);
      if (p.sw == 1) ox = neon_pool_row_vec<1, Avg>(p, xc, iy0, ky0, ky1, ox, hi, cnt, yr);
      else ox = neon_pool_row_vec<2, Avg>(p, xc, iy0, ky0, ky1, ox, hi, cnt, yr);
      for (; ox < p.ow; ++ox) yr[ox] = point(ox);
    }
  }
}

}  // namespace detail

inline void maxpool2d_f32_neon(const PoolParams& p, const float* x, float* y) {
  if (p.sw == 1 || p.sw == 2) detail::neon_pool2d<false>(p, x, y);
  else maxpool2d_f32_ref(p, x, y);
}

inline void avgpool2d_f32_neon(const PoolParams& p, const float* x, float* y) {
  if (p.sw == 1 || p.sw == 2) detail::neon_pool2d<true>(p, x, y);
  else avgpool2d_f32_ref(p, x, y);
}

// y[i] = mean(x[i, 0:hw]) for i < nc.
inline void global_avgpool_f32_neon(int64_t nc, int64_t hw, const float* x, float* y) {
  for (int64_t i = 0; i < nc; ++i) {
    const float* xc = x + i * hw;
    float32x4_t s0 = vdupq_n_f32(0.f), s1 = s0;
    const int64_t hw8 = hw / 8 * 8;
    for (int64_t j = 0; j < hw8; j += 8) {
      s0 = vaddq_f32(s0, vld1q_f32(xc + j));
      s1 = vaddq_f32(s1, vld1q_f32(xc + j + 4));
    }
    float part[4];
    vst1q_f32(part, vaddq_f32(s0, s1));
    float s = (part[0] + part[1]) + (part[2] + part[3]);
    for (int64_t j = hw8; j < hw; ++j) s += xc[j];
    y[i] = hw > 0 ? s / (float)hw : 0.f;
  }
}

// y[i] = max(x[i, 0:hw]) for i < nc.
inline void global_maxpool_f32_neon(int64_t nc, int64_t hw, const float* x, float* y) {
  for (int64_t i = 0; i < nc; ++i) {
    const float* xc = x + i * hw;
    float32x4_t m4 = vdupq_n_f32(-std::numeric_limits<float>::infinity());
    const int64_t hw4 = hw / 4 * 4;
    for (int64_t j = 0; j < hw4; j += 4) m4 = vmaxq_f32(m4, vld1q_f32(xc + j));
    float part[4];
    vst1q_f32(part, m4);
    float m = std::max(std::max(part[0], part[1]), std::max(part[2], part[3]));
    for (int64_t j = hw4; j < hw; ++j) m = xc[j] > m ? xc[j] : m;
    y[i] = m;
  }
}

}  // namespace lne

#endif  // __ARM_NEON
