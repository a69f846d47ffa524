// LNE runtime: direct depthwise 2-D convolution (group == c == m), no scratch.
//
// 3x3 / 5x5 kernels with stride 1 or 2: rows and columns whose taps all lie inside the image are
// computed with every tap fused in registers (no bounds checks); the border is done point-wise.
// Any other shape (and the border rows of those): each output row is accumulated tap by tap, for
// every kernel tap (ky, kx) the range of output columns whose input column is inside the image is
// computed once, so the inner loops carry no bounds checks; padding rows/columns are skipped.
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_params.h"

namespace lne {

namespace detail {

// Interior columns [lo, hi) of an output row whose KH input rows are all inside the image:
// all taps accumulated in registers, one store per output. rows[ky] points at x[iy_ky, 0].
template <int KH, int KW, int SW>
inline void dw_row_interior(const float* const* rows, const float* wc, float b, int64_t dw,
                            int64_t pl, int64_t lo, int64_t hi, float* yr) {
  float wk[KH * KW];
  for (int t = 0; t < KH * KW; ++t) wk[t] = wc[t];
  const float* base[KH];
  for (int ky = 0; ky < KH; ++ky) base[ky] = rows[ky] + (lo * SW - pl);  // in bounds: lo is interior
  float* LNE_RESTRICT d = yr + lo;
  const int64_t cnt = hi - lo;
  for (int64_t i = 0; i < cnt; ++i) {
    float acc = b;
    for (int ky = 0; ky < KH; ++ky)
      for (int kx = 0; kx < KW; ++kx) acc += wk[ky * KW + kx] * base[ky][i * SW + kx * dw];
    d[i] = acc;
  }
}

// One output column with bounds checks (used for the few border columns of interior rows).
inline float dw_point(const ConvParams& p, const float* xc, const float* wc, float b, int64_t oy,
                      int64_t ox) {
  float acc = b;
  for (int32_t ky = 0; ky < p.kh; ++ky) {
    const int64_t iy = oy * p.sh - p.pt + (int64_t)ky * p.dh;
    if (iy < 0 || iy >= p.h) continue;
    for (int32_t kx = 0; kx < p.kw; ++kx) {
      const int64_t ix = ox * p.sw - p.pl + (int64_t)kx * p.dw;
      if (ix < 0 || ix >= p.w) continue;
      acc += wc[ky * p.kw + kx] * xc[iy * p.w + ix];
    }
  }
  return acc;
}

}  // namespace detail

inline void conv2d_f32_depthwise(const ConvParams& p, const float* x, const float* w,
                                 const float* bias, float* y) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int32_t C = p.c;
  // Valid output-column range per kernel column (independent of the row and the channel).
  constexpr int32_t kMaxKw = 64;
  int64_t lo_buf[kMaxKw], hi_buf[kMaxKw];
  const bool cached = p.kw <= kMaxKw;
  if (cached)
    for (int32_t kx = 0; kx < p.kw; ++kx)
      detail::valid_range(p.ow, p.sw, (int64_t)kx * p.dw - p.pl, p.w, &lo_buf[kx], &hi_buf[kx]);
  // Fast path for the common 3x3 / 5x5 kernels with stride 1 or 2 (any dilation / padding):
  // rows [oy_lo, oy_hi) have every kernel row inside the image, columns [ox_lo, ox_hi) every
  // kernel column.
  typedef void (*RowFn)(const float* const*, const float*, float, int64_t, int64_t, int64_t,
                        int64_t, float*);
  RowFn fast = nullptr;
  if (p.kh == 3 && p.kw == 3 && p.sw == 1) fast = &detail::dw_row_interior<3, 3, 1>;
  if (p.kh == 3 && p.kw == 3 && p.sw == 2) fast = &detail::dw_row_interior<3, 3, 2>;
  if (p.kh == 5 && p.kw == 5 && p.sw == 1) fast = &detail::dw_row_interior<5, 5, 1>;
  if (p.kh == 5 && p.kw == 5 && p.sw == 2) fast = &detail::dw_row_interior<5, 5, 2>;
  int64_t oy_lo = 0, oy_hi = 0, ox_lo = 0, ox_hi = 0;
  if (fast != nullptr) {
    int64_t a, bnd;
    // rows: first tap row (ky = 0) and last tap row (ky = kh-1) both inside [0, h)
    detail::valid_range(p.oh, p.sh, -(int64_t)p.pt, p.h, &oy_lo, &oy_hi);
    detail::valid_range(p.oh, p.sh, (int64_t)(p.kh - 1) * p.dh - p.pt, p.h, &a, &bnd);
    oy_lo = std::max(oy_lo, a);
    oy_hi = std::min(oy_hi, bnd);
    detail::valid_range(p.ow, p.sw, -(int64_t)p.pl, p.w, &ox_lo, &ox_hi);
    detail::valid_range(p.ow, p.sw, (int64_t)(p.kw - 1) * p.dw - p.pl, p.w, &a, &bnd);
    ox_lo = std::max(ox_lo, a);
    ox_hi = std::min(ox_hi, bnd);
    if (oy_hi <= oy_lo || ox_hi <= ox_lo) fast = nullptr;
  }
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t ch = 0; ch < C; ++ch) {
      const float* xc = x + ((int64_t)nn * C + ch) * hw;
      const float* wc = w + (int64_t)ch * p.kh * p.kw;
      float* yc = y + ((int64_t)nn * C + ch) * ohw;
      const float b = bias ? bias[ch] : 0.f;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        float* yr = yc + (int64_t)oy * p.ow;
        if (fast != nullptr && oy >= oy_lo && oy < oy_hi) {
          // Interior row: fused taps on interior columns, checked taps on the border columns.
          const float* rows[5];
          for (int32_t ky = 0; ky < p.kh; ++ky)
            rows[ky] = xc + ((int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh) * p.w;
          fast(rows, wc, b, p.dw, p.pl, ox_lo, ox_hi, yr);
          for (int64_t ox = 0; ox < ox_lo; ++ox) yr[ox] = detail::dw_point(p, xc, wc, b, oy, ox);
          for (int64_t ox = ox_hi; ox < p.ow; ++ox) yr[ox] = detail::dw_point(p, xc, wc, b, oy, ox);
          detail::act_inplace(p.act, p.ow, yr);
          continue;
        }
        for (int32_t ox = 0; ox < p.ow; ++ox) yr[ox] = b;
        for (int32_t ky = 0; ky < p.kh; ++ky) {
          const int64_t iy = (int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh;
          if (iy < 0 || iy >= p.h) continue;
          const float* xr = xc + iy * p.w;
          for (int32_t kx = 0; kx < p.kw; ++kx) {
            const float wv = wc[ky * p.kw + kx];
            const int64_t xoff = (int64_t)kx * p.dw - p.pl;
            int64_t lo, hi;
            if (cached) {
              lo = lo_buf[kx];
              hi = hi_buf[kx];
            } else {
              detail::valid_range(p.ow, p.sw, xoff, p.w, &lo, &hi);
            }
            if (hi <= lo) continue;
            // s[i * sw] = x[iy, (lo + i)*sw + xoff], d[i] = y[oy, lo + i]
            const float* LNE_RESTRICT s = xr + (lo * p.sw + xoff);
            float* LNE_RESTRICT d = yr + lo;
            const int64_t cnt = hi - lo;
            if (p.sw == 1) {
              for (int64_t i = 0; i < cnt; ++i) d[i] += wv * s[i];
            } else if (p.sw == 2) {
              for (int64_t i = 0; i < cnt; ++i) d[i] += wv * s[2 * i];
            } else {
              const int64_t sw = p.sw;
              for (int64_t i = 0; i < cnt; ++i) d[i] += wv * s[i * sw];
            }
          }
        }
        detail::act_inplace(p.act, p.ow, yr);
      }
    }
  }
}

}  // namespace lne
