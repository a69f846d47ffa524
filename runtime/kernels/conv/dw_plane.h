// LNE runtime: depthwise 3x3 / 5x5 convolution, stride 1 or 2, dilation 1: the band-of-planes
// path used by conv2d_f32_depthwise (conv_depthwise.h).
//
// Each channel is copied once, a band of rows at a time, into a zero-padded stack plane. Output
// rows are then computed eight columns per vector with all K*K taps in registers, two rows at a
// time (they share K - 1 input rows for stride 1), without bounds checks; bias is the
// accumulators' start value and the activation runs once per channel plane. Stride 2 splits the
// even / odd input columns inside the vector loop (AVX2 shuffles; elsewhere a stride-2 gather
// that compilers turn into de-interleaving loads). Written once with the portable 8-lane vf8
// type (AVX2, NEON, SSE or plain C++).
#pragma once
#include <cstring>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_params.h"

namespace lne {
namespace detail {

constexpr int64_t kDwPlaneFloats = 6144;  // 24 KiB stack plane (rows of the current band)

// Staged row: padded columns [-pl, -pl + len) of an input row, len = ow8 * S + K - 1 (every
// column the vector loop reads); the row stride adds 8 floats of slack for the vector copy.
inline int64_t dwp_ow8(const ConvParams& p) { return (p.ow + 7) / 8 * 8; }
inline int64_t dwp_len(const ConvParams& p) { return dwp_ow8(p) * p.sw + p.kw - 1; }
inline int64_t dwp_stride(const ConvParams& p) { return dwp_len(p) + 8; }
// Output rows per band (0: fewer than two fit, another path is used).
inline int64_t dwp_band_rows(const ConvParams& p) {
  const int64_t rows_fit = kDwPlaneFloats / dwp_stride(p);
  int64_t ob = (rows_fit - p.kh) / p.sh + 1;
  if (ob > p.oh) ob = p.oh;
  return ob >= 2 || (ob == 1 && p.oh == 1) ? ob : 0;
}
inline bool dwp_applies(const ConvParams& p) {
  return p.kh == p.kw && (p.kh == 3 || p.kh == 5) && p.sh == p.sw && (p.sh == 1 || p.sh == 2) &&
         p.dh == 1 && p.dw == 1 && dwp_band_rows(p) > 0;
}

// Taps of one staged row for outputs [ox, ox + 8): acc += sum_kx w[kx] * s[ox*S + kx].
template <int K, int S>
inline void dwp_row_taps(const float* s, int64_t ox, const vf8* w, vf8& acc) {
  if constexpr (S == 1) {
    LNE_UNROLL for (int kx = 0; kx < K; ++kx) acc += w[kx] * vf8_load(s + ox + kx);
  } else {
#if LNE_HAVE_AVX2_FMA
    // even / odd columns of s[2*ox + 2h, +16), in the lane order 0 1 4 5 2 3 6 7 that
    // dwp_fix_order undoes once per output vector
    const float* b = s + 2 * ox;
    LNE_UNROLL for (int h = 0; 2 * h < K; ++h) {
      const __m256 r0 = _mm256_loadu_ps(b + 2 * h), r1 = _mm256_loadu_ps(b + 2 * h + 8);
      acc += w[2 * h] * (vf8)_mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(2, 0, 2, 0));
      if (2 * h + 1 < K) acc += w[2 * h + 1] * (vf8)_mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(3, 1, 3, 1));
    }
#else
    LNE_UNROLL for (int kx = 0; kx < K; ++kx) {
      vf8 v;
      for (int l = 0; l < 8; ++l) v[l] = s[2 * (ox + l) + kx];
      acc += w[kx] * v;
    }
#endif
  }
}

template <int S>
inline vf8 dwp_fix_order(const vf8& v) {
#if LNE_HAVE_AVX2_FMA
  if constexpr (S == 2) return (vf8)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd((__m256)v), 0xD8));
#endif
  return v;
}

// Store the first n (< 8) outputs of v at y: as a whole vector running into the next row (which
// is written after this one) while that stays inside the tensor, else lane by lane.
inline void dwp_store_row(float* y, const vf8& v, int64_t n, const float* y_end) {
  if (y + 8 <= y_end) {
    vf8_store(y, v);
    return;
  }
  alignas(32) float t[8];
  vf8_store(t, v);
  copy_lt8(y, t, n);
}

// Output row (pair): r0 is the first staged input row of output row 0, rows are `rs` apart
// (output row 1 starts S rows further); ow outputs go to y0 (and y0 + ow). A width that is not
// a multiple of 8 ends with a vector overlapping the previous one; rows narrower than 8 are
// stored in full, running into the next row (rewritten right after, or by the next channel),
// unless that would pass y_end.
template <int K, int S, bool kTwo>
inline void dwp_rows(const float* r0, int64_t rs, const vf8* wv, const vf8& bv, int64_t ow, float* y0,
                     const float* y_end) {
  const float* r1 = r0 + S * rs;
  float* y1 = y0 + ow;
  auto vec = [&](int64_t ox, vf8* o0, vf8* o1) {
    vf8 a0 = bv, a1 = bv;
    LNE_UNROLL for (int ky = 0; ky < K; ++ky) {
      dwp_row_taps<K, S>(r0 + ky * rs, ox, wv + ky * K, a0);
      if (kTwo) dwp_row_taps<K, S>(r1 + ky * rs, ox, wv + ky * K, a1);
    }
    *o0 = dwp_fix_order<S>(a0);
    if (kTwo) *o1 = dwp_fix_order<S>(a1);
  };
  vf8 o0, o1;
  if (ow < 8) {
    vec(0, &o0, &o1);
    dwp_store_row(y0, o0, ow, y_end);
    if (kTwo) dwp_store_row(y1, o1, ow, y_end);
    return;
  }
  for (int64_t ox = 0;; ox += 8) {
    if (ox + 8 > ow) ox = ow - 8;
    vec(ox, &o0, &o1);
    vf8_store(y0 + ox, o0);
    if (kTwo) vf8_store(y1 + ox, o1);
    if (ox + 8 == ow) break;
  }
}

template <int K, int S>
inline void dw_plane(const ConvParams& p, const float* x, const float* w, const float* bias,
                     float* y, float* buf) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t len = dwp_len(p), rs = dwp_stride(p);
  const int64_t band = dwp_band_rows(p), in_rows = (band - 1) * S + K;
  // staged columns [j0, j1) hold image columns [j0 - pl, j1 - pl); the rest stays zero
  const int64_t pl = p.pl;
  const int64_t j0 = std::max<int64_t>(0, pl), j1 = std::min<int64_t>(len, pl + p.w);
  const int64_t ncopy = j1 - j0, nvec = ncopy > 0 ? (ncopy + 7) / 8 : 0;
  for (int64_t i = 0; i < in_rows * rs; ++i) buf[i] = 0.f;
  const float* x_end = x + (int64_t)p.n * p.c * hw;
  const float* y_end = y + (int64_t)p.n * p.c * ohw;
  const vf8 zero = vf8_set1(0.f);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t ch = 0; ch < p.c; ++ch) {
      const float* xc = x + ((int64_t)nn * p.c + ch) * hw;
      float* yc = y + ((int64_t)nn * p.c + ch) * ohw;
      vf8 wv[K * K];
      for (int t = 0; t < K * K; ++t) wv[t] = vf8_set1(w[(int64_t)ch * K * K + t]);
      const vf8 bv = vf8_set1(bias ? bias[ch] : 0.f);
      for (int64_t oy0 = 0; oy0 < p.oh; oy0 += band) {
        const int64_t nb = std::min<int64_t>(band, p.oh - oy0);
        const int64_t iy0 = oy0 * S - p.pt, nr = (nb - 1) * S + K;
        for (int64_t r = 0; r < nr; ++r) {  // stage the band's input rows
          const int64_t iy = iy0 + r;
          float* LNE_RESTRICT d = buf + r * rs;
          if (iy < 0 || iy >= p.h) {
            for (int64_t j = 0; j < len; j += 8) vf8_store(d + j, zero);
            continue;
          }
          if (ncopy <= 0) continue;
          const float* src = xc + iy * p.w + (j0 - pl);
          if (src + nvec * 8 <= x_end) {  // whole vectors, then re-zero what ran past j1
            for (int64_t v = 0; v < nvec; ++v) vf8_store(d + j0 + 8 * v, vf8_load(src + 8 * v));
            vf8_store(d + j1, zero);
          } else {
            for (int64_t j = 0; j < ncopy; ++j) d[j0 + j] = src[j];
          }
        }
        for (int64_t oy = 0; oy < nb; oy += 2) {
          const float* r0 = buf + oy * S * rs;
          float* y0 = yc + (oy0 + oy) * p.ow;
          if (oy + 1 < nb) dwp_rows<K, S, true>(r0, rs, wv, bv, p.ow, y0, y_end);
          else dwp_rows<K, S, false>(r0, rs, wv, bv, p.ow, y0, y_end);
        }
      }
      act_inplace(p.act, ohw, yc);
    }
  }
}

}  // namespace detail
}  // namespace lne
