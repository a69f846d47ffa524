// LNE runtime: vectorised pooling fast paths (NCHW, fp32).
//
// maxpool2d_f32_fast / avgpool2d_f32_fast: square 2x2 / 3x3 windows, stride 1 or 2, dilation 1,
// any padding (ceil-mode overhang included). Each channel is staged a band of rows at a time
// into a stack plane padded with the neutral value (-inf for max, 0 for sum); every output row is
// then one vertical pass over its K input rows (contiguous vectors) and one horizontal pass over
// the K taps of eight outputs at a time (stride 2 splits even / odd columns with AVX2 shuffles,
// elsewhere with a stride-2 gather). Average divides by the same counts as avgpool2d_f32_ref
// (separable: rows counted x columns counted, with or without the padding).
// global_avgpool_f32_fast streams each plane once with vector accumulators.
// Shapes the fast paths do not cover fall back to the reference kernels.
#pragma once
#include <limits>
#include <type_traits>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/pool/pool_ref.h"

namespace lne {
namespace detail {

constexpr int64_t kPoolPlaneFloats = 6144;  // 24 KiB stack: staged rows + two work rows

struct PoolMax {
  static float neutral() { return -std::numeric_limits<float>::infinity(); }
  static vf8 op(const vf8& a, const vf8& b) { return vf8_max(a, b); }
};
struct PoolSum {
  static float neutral() { return 0.f; }
  static vf8 op(const vf8& a, const vf8& b) { return a + b; }
};

inline int64_t poolf_ow8(const PoolParams& p) { return (p.ow + 7) / 8 * 8; }
inline int64_t poolf_len(const PoolParams& p) { return poolf_ow8(p) * p.sw + p.kw - 1; }
inline int64_t poolf_stride(const PoolParams& p) { return (poolf_len(p) + 15) / 8 * 8; }
inline int64_t poolf_band_rows(const PoolParams& p) {
  const int64_t rows_fit = kPoolPlaneFloats / poolf_stride(p) - 2;  // + vertical row + counts
  int64_t ob = (rows_fit - p.kh) / p.sh + 1;
  if (ob > p.oh) ob = p.oh;
  return ob >= 1 ? ob : 0;
}
inline bool poolf_applies(const PoolParams& p) {
  return p.kh == p.kw && (p.kh == 2 || p.kh == 3) && p.sh == p.sw && (p.sh == 1 || p.sh == 2) &&
         p.dh == 1 && p.dw == 1 && poolf_band_rows(p) > 0;
}

// y[ox..ox+8) = op over kx of t[ox*S + kx] (t: a vertically reduced row).
template <class Op, int K, int S>
inline vf8 poolf_hvec(const float* t, int64_t ox) {
  if constexpr (S == 1) {
    vf8 a = vf8_load(t + ox);
    for (int kx = 1; kx < K; ++kx) a = Op::op(a, vf8_load(t + ox + kx));
    return a;
  } else {
#if LNE_HAVE_AVX2_FMA
    const float* b = t + 2 * ox;
    const __m256 r0 = _mm256_loadu_ps(b), r1 = _mm256_loadu_ps(b + 8);
    vf8 a = Op::op((vf8)_mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(2, 0, 2, 0)),
                   (vf8)_mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(3, 1, 3, 1)));
    if (K == 3) {
      const __m256 q0 = _mm256_loadu_ps(b + 2), q1 = _mm256_loadu_ps(b + 10);
      a = Op::op(a, (vf8)_mm256_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0)));
    }
    return (vf8)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd((__m256)a), 0xD8));
#else
    vf8 a;
    for (int l = 0; l < 8; ++l) a[l] = t[2 * (ox + l)];
    for (int kx = 1; kx < K; ++kx) {
      vf8 v;
      for (int l = 0; l < 8; ++l) v[l] = t[2 * (ox + l) + kx];
      a = Op::op(a, v);
    }
    return a;
#endif
  }
}

// Per-output divisor of one axis (avgpool2d_f32_ref's rule): taps inside [0, n) or, with
// count_include_pad, inside the padded extent [-p0, n + p1).
inline float poolf_count(int64_t o, int32_t s, int32_t k, int32_t p0, int32_t p1, int32_t n, bool cip) {
  const int64_t start = o * s - p0;
  const int64_t lo = cip ? -p0 : 0, hi = cip ? (int64_t)n + p1 : n;
  const int64_t c = std::min<int64_t>(start + k, hi) - std::max<int64_t>(start, lo);
  return c > 0 ? (float)c : std::numeric_limits<float>::infinity();  // no tap: the sum 0 stays 0
}

template <class Op, int K, int S>
inline void pool_plane(const PoolParams& p, const float* x, float* y, float* buf) {
  constexpr bool kAvg = std::is_same<Op, PoolSum>::value;
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t len = poolf_len(p), rs = poolf_stride(p);
  const int64_t band = poolf_band_rows(p), in_rows = (band - 1) * S + K;
  float* t = buf + in_rows * rs;  // vertically reduced row
  float* cnt = t + rs;            // column divisors (average)
  const int64_t j0 = std::max<int64_t>(0, p.pl), j1 = std::min<int64_t>(len, (int64_t)p.pl + p.w);
  const vf8 pad = vf8_set1(Op::neutral());
  for (int64_t i = 0; i < in_rows * rs; ++i) buf[i] = Op::neutral();
  const bool cip = p.count_include_pad != 0;
  if (kAvg)
    for (int64_t ox = 0; ox < poolf_ow8(p); ++ox)
      cnt[ox] = ox < p.ow ? poolf_count(ox, S, K, p.pl, p.pr, p.w, cip) : 1.f;
  const int64_t planes = (int64_t)p.n * p.c;
  alignas(32) float tmp[8];
  for (int64_t pc = 0; pc < planes; ++pc) {
    const float* xc = x + pc * hw;
    float* yc = y + pc * ohw;
    for (int64_t oy0 = 0; oy0 < p.oh; oy0 += band) {
      const int64_t nb = std::min<int64_t>(band, p.oh - oy0);
      const int64_t iy0 = oy0 * S - p.pt, nr = (nb - 1) * S + K;
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t iy = iy0 + r;
        float* LNE_RESTRICT d = buf + r * rs;
        if (iy < 0 || iy >= p.h) {
          for (int64_t j = 0; j < len; j += 8) vf8_store(d + j, pad);
          continue;
        }
        if (j1 > j0) copy_short(d + j0, xc + iy * p.w + (j0 - p.pl), j1 - j0);
      }
      for (int64_t oy = 0; oy < nb; ++oy) {
        const float* r0 = buf + oy * S * rs;
        for (int64_t j = 0; j < len; j += 8) {
          vf8 a = vf8_load(r0 + j);
          for (int ky = 1; ky < K; ++ky) a = Op::op(a, vf8_load(r0 + ky * rs + j));
          vf8_store(t + j, a);
        }
        float* yr = yc + (oy0 + oy) * p.ow;
        const float cy = kAvg ? poolf_count(oy0 + oy, S, K, p.pt, p.pb, p.h, cip) : 1.f;
        for (int64_t ox = 0; ox < p.ow; ox += 8) {
          vf8 v = poolf_hvec<Op, K, S>(t, ox);
          if (kAvg) v = v / (cy * vf8_load(cnt + ox));
          if (ox + 8 <= p.ow) {
            vf8_store(yr + ox, v);
          } else {
            vf8_store(tmp, v);
            copy_lt8(yr + ox, tmp, p.ow - ox);
          }
        }
      }
    }
  }
}

template <class Op>
inline bool pool_fast_dispatch(const PoolParams& p, const float* x, float* y) {
  if (!poolf_applies(p)) return false;
  alignas(32) float buf[kPoolPlaneFloats];
  if (p.kh == 2) {
    if (p.sh == 1) pool_plane<Op, 2, 1>(p, x, y, buf);
    else pool_plane<Op, 2, 2>(p, x, y, buf);
  } else {
    if (p.sh == 1) pool_plane<Op, 3, 1>(p, x, y, buf);
    else pool_plane<Op, 3, 2>(p, x, y, buf);
  }
  return true;
}

}  // namespace detail

// y[i] = mean(x[i, 0:hw]) for i < nc, eight-lane accumulators.
inline void global_avgpool_f32_fast(int64_t nc, int64_t hw, const float* x, float* y) {
  using detail::vf8;
  using detail::vf8_load;
  for (int64_t i = 0; i < nc; ++i) {
    const float* xc = x + i * hw;
    vf8 a0 = detail::vf8_set1(0.f), a1 = a0;
    int64_t j = 0;
    for (; j + 16 <= hw; j += 16) {
      a0 += vf8_load(xc + j);
      a1 += vf8_load(xc + j + 8);
    }
    for (; j + 8 <= hw; j += 8) a0 += vf8_load(xc + j);
    a0 += a1;
    float s = ((a0[0] + a0[4]) + (a0[1] + a0[5])) + ((a0[2] + a0[6]) + (a0[3] + a0[7]));
    for (; j < hw; ++j) s += xc[j];
    y[i] = hw > 0 ? s / (float)hw : 0.f;
  }
}

// Same contract as maxpool2d_f32_ref; fast for 2x2 / 3x3, stride 1 / 2, dilation 1.
inline void maxpool2d_f32_fast(const PoolParams& p, const float* x, float* y) {
  if (!detail::pool_fast_dispatch<detail::PoolMax>(p, x, y)) maxpool2d_f32_ref(p, x, y);
}

// Same contract as avgpool2d_f32_ref; fast for 2x2 / 3x3, stride 1 / 2, dilation 1, and for a
// window covering the whole unpadded plane (a global average).
inline void avgpool2d_f32_fast(const PoolParams& p, const float* x, float* y) {
  if (p.kh == p.h && p.kw == p.w && p.oh == 1 && p.ow == 1 && p.pt == 0 && p.pl == 0 &&
      p.pb == 0 && p.pr == 0) {
    global_avgpool_f32_fast((int64_t)p.n * p.c, (int64_t)p.h * p.w, x, y);
    return;
  }
  if (!detail::pool_fast_dispatch<detail::PoolSum>(p, x, y)) avgpool2d_f32_ref(p, x, y);
}

}  // namespace lne
