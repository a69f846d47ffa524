// LNE runtime: direct depthwise 2-D convolution (group == c == m), no scratch.
//
// 3x3 / 5x5 kernels with stride 1 or 2 (any dilation / padding; the common MobileNet-style
// shapes): the KH input rows of each output row are staged in a small zero-padded stack buffer
// (only the image part is copied, the zero margins are written once), then every output of the
// row is computed with all taps fused in registers: no bounds checks, 8 outputs per vector step.
// Other shapes (and rows too wide for the buffer): each output row is accumulated tap by tap; for
// every kernel tap (ky, kx) the range of output columns whose input column is inside the image is
// computed once, so the inner loops carry no bounds checks either; padding taps are skipped.
#pragma once
#include <cstring>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_params.h"
#include "kernels/conv/dw_plane.h"

namespace lne {

namespace detail {

constexpr int32_t kDwStageFloats = 6144;  // 24 KiB of stack for the staged rows

// One full output row: tap t = ky*KW + kx contributes wk[t] * taps[t][ox] (contiguous in ox).
template <int KH, int KW>
inline void dw_row_fused(const float* const* taps, const float* wc, float b, int64_t ow,
                         float* LNE_RESTRICT yr) {
  constexpr int T = KH * KW;
  float wk[T];
  const float* tp[T];
  for (int t = 0; t < T; ++t) {
    wk[t] = wc[t];
    tp[t] = taps[t];
  }
  for (int64_t i = 0; i < ow; ++i) {
    float acc = b;
#if defined(__GNUC__)
#pragma GCC unroll 32
#endif
    for (int t = 0; t < T; ++t) acc += wk[t] * tp[t][i];
    yr[i] = acc;
  }
}

// Staged rows hold padded columns j = ix + pl (zero outside the image) of the KH input rows of
// an output row. SW == 1: row ky is stored as is, tap (ky, kx) starts at column kx*dw.
// SW == 2: row ky is stored de-interleaved (even columns, then odd columns, half = ceil(wp/2)
// each) so that the column 2*ox + kx*dw of every tap is again a contiguous run in ox.
// Outputs are computed 8 at a time (ow rounded up to ow8, into a stack row, so that the vector
// loop has no scalar tail), hence staged rows cover every column those ow8 outputs touch.
inline int64_t dw_stage_ow8(const ConvParams& p) { return (p.ow + 7) / 8 * 8; }
inline int64_t dw_stage_wp(const ConvParams& p) {
  return (dw_stage_ow8(p) - 1) * p.sw + (int64_t)(p.kw - 1) * p.dw + 1;
}
inline bool dw_stage_fits(const ConvParams& p) {
  const int64_t wp = dw_stage_wp(p);
  return (p.kh + 1) * (wp + 1) + dw_stage_ow8(p) <= kDwStageFloats;
}

template <int KH, int KW, int SW>
inline void dw_staged(const ConvParams& p, const float* x, const float* w, const float* bias,
                      float* y, float* stage) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t ow8 = dw_stage_ow8(p), wp = dw_stage_wp(p);
  const int64_t half = (wp + 1) / 2;
  const int64_t row_len = SW == 1 ? wp : 2 * half;
  // padded columns [j0, j1) come from the image; the rest stays zero
  const int64_t j0 = std::max<int64_t>(0, p.pl), j1 = std::min<int64_t>(wp, (int64_t)p.pl + p.w);
  for (int64_t t = 0; t < (KH + 1) * row_len; ++t) stage[t] = 0.f;
  const float* zero_row = stage + KH * row_len;  // taps above / below the image
  float* out_row = stage + (KH + 1) * row_len;    // ow8 outputs
  // offset of tap column kx inside a staged row
  int64_t tap_off[KW];
  for (int kx = 0; kx < KW; ++kx) {
    const int64_t c = (int64_t)kx * p.dw;
    tap_off[kx] = SW == 1 ? c : ((c & 1) ? half + (c >> 1) : (c >> 1));
  }
  const float* rows[KH];
  const float* taps[KH * KW];
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t ch = 0; ch < p.c; ++ch) {
      const float* xc = x + ((int64_t)nn * p.c + ch) * hw;
      const float* wc = w + (int64_t)ch * KH * KW;
      float* yc = y + ((int64_t)nn * p.c + ch) * ohw;
      const float b = bias ? bias[ch] : 0.f;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        for (int ky = 0; ky < KH; ++ky) {
          const int64_t iy = (int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh;
          if (iy < 0 || iy >= p.h || j1 <= j0) {
            rows[ky] = zero_row;
            continue;
          }
          float* dst = stage + ky * row_len;
          const float* src = xc + iy * p.w;  // padded column j is src[j - pl], j in [j0, j1)
          const int64_t pl = p.pl;
          if (SW == 1) {
            std::memcpy(dst + j0, src + (j0 - pl), (size_t)(j1 - j0) * sizeof(float));
          } else {
            float* LNE_RESTRICT ev = dst;
            float* LNE_RESTRICT od = dst + half;
            const int64_t e0 = (j0 + 1) >> 1, e1 = (j1 + 1) >> 1;  // even j = 2k in [j0, j1)
            const int64_t o0 = j0 >> 1, o1 = j1 >> 1;              // odd  j = 2k+1 in [j0, j1)
            for (int64_t k = e0; k < e1; ++k) ev[k] = src[2 * k - pl];
            for (int64_t k = o0; k < o1; ++k) od[k] = src[2 * k + 1 - pl];
          }
          rows[ky] = dst;
        }
        for (int ky = 0; ky < KH; ++ky)
          for (int kx = 0; kx < KW; ++kx) taps[ky * KW + kx] = rows[ky] + tap_off[kx];
        dw_row_fused<KH, KW>(taps, wc, b, ow8, out_row);
        act_map(p.act, p.ow, out_row, yc + (int64_t)oy * p.ow);
      }
    }
  }
}

// Generic path: tap-by-tap row accumulation over the valid column range of each tap.
inline void dw_generic(const ConvParams& p, const float* x, const float* w, const float* bias,
                       float* y) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  constexpr int32_t kMaxKw = 64;
  int64_t lo_buf[kMaxKw], hi_buf[kMaxKw];
  const bool cached = p.kw <= kMaxKw;
  if (cached)
    for (int32_t kx = 0; kx < p.kw; ++kx)
      valid_range(p.ow, p.sw, (int64_t)kx * p.dw - p.pl, p.w, &lo_buf[kx], &hi_buf[kx]);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t ch = 0; ch < p.c; ++ch) {
      const float* xc = x + ((int64_t)nn * p.c + ch) * hw;
      const float* wc = w + (int64_t)ch * p.kh * p.kw;
      float* yc = y + ((int64_t)nn * p.c + ch) * ohw;
      const float b = bias ? bias[ch] : 0.f;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        float* yr = yc + (int64_t)oy * p.ow;
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
              valid_range(p.ow, p.sw, xoff, p.w, &lo, &hi);
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
        act_inplace(p.act, p.ow, yr);
      }
    }
  }
}

}  // namespace detail

// Precondition: group == c == m. x [n,c,h,w], w [c,1,kh,kw], bias [c] or nullptr, y [n,c,oh,ow].
inline void conv2d_f32_depthwise(const ConvParams& p, const float* x, const float* w,
                                 const float* bias, float* y) {
  if (detail::dwp_applies(p)) {
    alignas(32) float buf[detail::kDwPlaneFloats];
    if (p.kh == 3) {
      if (p.sw == 1) detail::dw_plane<3, 1>(p, x, w, bias, y, buf);
      else detail::dw_plane<3, 2>(p, x, w, bias, y, buf);
    } else {
      if (p.sw == 1) detail::dw_plane<5, 1>(p, x, w, bias, y, buf);
      else detail::dw_plane<5, 2>(p, x, w, bias, y, buf);
    }
    return;
  }
  if (p.kh == p.kw && (p.kh == 3 || p.kh == 5) && (p.sw == 1 || p.sw == 2) &&
      detail::dw_stage_fits(p)) {
    alignas(32) float stage[detail::kDwStageFloats];
    if (p.kh == 3) {
      if (p.sw == 1) detail::dw_staged<3, 3, 1>(p, x, w, bias, y, stage);
      else detail::dw_staged<3, 3, 2>(p, x, w, bias, y, stage);
    } else {
      if (p.sw == 1) detail::dw_staged<5, 5, 1>(p, x, w, bias, y, stage);
      else detail::dw_staged<5, 5, 2>(p, x, w, bias, y, stage);
    }
    return;
  }
  detail::dw_generic(p, x, w, bias, y);
}

}  // namespace lne
