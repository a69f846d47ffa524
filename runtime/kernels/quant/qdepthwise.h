// LNE runtime: int8 depthwise convolution (group == channels), AVX2 and AArch64 NEON, any kernel
// size, horizontal stride 1 or 2, dilation 1. Exact: the same integer sums and requantization as
// qconv2d_depthwise (the portable fallback elsewhere).
//
// Each channel plane is first copied as int16 (x - zp) into a zero-padded plane (pad rows and
// columns, plus a right margin that the last vector loads may read). vpmaddwd then multiplies
// adjacent int16 pairs and adds each pair into 32 bits, so taps are taken two at a time along a
// row -- (x[i + kx], x[i + kx + 1]) times (w[kx], w[kx + 1]), an odd last tap paired with 0:
//   stride 2: a 16 x int16 load at column 2o + kx holds exactly the pairs of outputs o..o+7;
//   stride 1: the same load at column o + kx holds the pairs of the even outputs o, o+2, ..., and
//             one at o + kx + 1 those of the odd outputs; unpacking the two requantized halves
//             and packing them restores the order (16 outputs per step).
// |x - zp| <= 255 and |w| <= 128: a pair sum is below 2^16, so no sum can overflow.
// NEON: smlal of 8 int16 inputs (vld2 takes every other one at stride 2) by each int16 tap into
// two int32x4 accumulators, 8 outputs per step.
#pragma once
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/quant/qgemm_avx2.h"
#include "kernels/quant/quant_ref.h"
#include "lne/kernel_util.h"

namespace lne {

// Outputs per step: 16 (stride 1) or 8 (stride 2); the padded plane's row length covers the
// loads of the last (partial) step.
inline int64_t qdw_step(const QConvParams& p) { return p.sw == 1 ? 16 : 8; }
inline int64_t qdw_cols(const QConvParams& p) {
  const int64_t steps = (p.ow + qdw_step(p) - 1) / qdw_step(p);
  return steps * qdw_step(p) * p.sw + p.kw + 16;
}
inline int64_t qdw_rows(const QConvParams& p) { return (int64_t)(p.oh - 1) * p.sh + p.kh; }
inline int64_t qdepthwise_scratch_bytes(const QConvParams& p) { return qdw_rows(p) * qdw_cols(p) * 2; }

namespace detail {
// Plane pc of x as int16 x - zp into the padded plane xp (zeroed by the caller once: every plane
// writes the same region, so the padding stays 0).
template <typename TX>
inline void qdw_fill_plane(const QConvParams& p, const TX* x, int64_t pc, int16_t* xp) {
  const int64_t rows = qdw_rows(p), cols = qdw_cols(p);
  const TX* xc = x + pc * p.h * p.w;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = r - p.pt;
    if (iy >= 0 && iy < p.h) widen_row(xc + iy * p.w, std::min<int64_t>(p.w, cols - p.pl), p.x_zp, xp + r * cols + p.pl);
  }
}
}  // namespace detail

#if LNE_HAVE_AVX2_FMA
namespace detail {
// int32 accumulators (8 lanes) -> requantized int32: clamp in float to [lo, hi] - zp, round half
// to even, add the zero point (requantize() in quant_ref.h, 8 at a time).
inline __m256i qdw_requant(__m256i acc, __m256 mult, __m256 flo, __m256 fhi, __m256i zp) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mult);
  v = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), flo), fhi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
}

// Sum over the kernel window of the tap pairs for the 8 outputs whose pairs start at column c0 of
// row r0 of the padded plane. KH / KW > 0: the kernel size, known at compile time (unrolled).
template <int KH, int KW>
inline __m256i qdw_window(const int16_t* xp, int64_t cols, int64_t r0, int64_t c0, int32_t kh, int32_t kw,
                          const __m256i* wv, __m256i acc) {
  if (KH > 0) kh = KH;
  if (KW > 0) kw = KW;
  const int32_t kw2 = (kw + 1) / 2;
  for (int32_t ky = 0; ky < kh; ++ky) {
    const int16_t* row = xp + (r0 + ky) * cols + c0;
    for (int32_t j = 0; j < kw2; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, wv[ky * kw2 + j]));
    }
  }
  return acc;
}

// 16 int16 (outputs in order) -> the first `count` as T.
template <typename T>
inline void qdw_store(__m256i w16, int64_t count, T* y) {
  alignas(32) T out[16];
  if (sizeof(T) == 1) {
    const __m128i lo = _mm256_castsi256_si128(w16), hi = _mm256_extracti128_si256(w16, 1);
    _mm_store_si128(reinterpret_cast<__m128i*>(out), std::is_signed<T>::value ? _mm_packs_epi16(lo, hi)
                                                                              : _mm_packus_epi16(lo, hi));
  } else {
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), w16);
  }
  std::memcpy(y, out, (size_t)count * sizeof(T));
}
}  // namespace detail
#endif

#if LNE_HAVE_AVX2_FMA
namespace detail {
template <int KH, int KW, typename TX, typename TY>
inline void qdw_planes(const QConvParams& p, const TX* x, const int8_t* w, const int32_t* bias, const float* mult,
                       TY* y, int16_t* xp) {
  const int64_t rows = qdw_rows(p), cols = qdw_cols(p), step = qdw_step(p);
  const int32_t kw2 = (p.kw + 1) / 2;
  __m256i wv[64];  // broadcast (w[kx], w[kx + 1]) pairs per row; kh * ceil(kw / 2) <= 64 (applies() checks)
  const __m256 flo = _mm256_set1_ps((float)(p.lo - p.y_zp)), fhi = _mm256_set1_ps((float)(p.hi - p.y_zp));
  const __m256i vzp = _mm256_set1_epi32(p.y_zp);
  std::memset(xp, 0, (size_t)(rows * cols) * sizeof(int16_t));
  for (int64_t pc = 0; pc < (int64_t)p.n * p.c; ++pc) {
    const int32_t ch = (int32_t)(pc % p.c);
    qdw_fill_plane(p, x, pc, xp);
    const int8_t* wc = w + (int64_t)ch * p.kh * p.kw;
    for (int32_t ky = 0; ky < p.kh; ++ky)
      for (int32_t j = 0; j < kw2; ++j) {
        const int16_t lo = wc[ky * p.kw + 2 * j];
        const int16_t hi = 2 * j + 1 < p.kw ? wc[ky * p.kw + 2 * j + 1] : 0;
        wv[ky * kw2 + j] = _mm256_set1_epi32((int32_t)(uint16_t)lo | ((int32_t)(uint16_t)hi << 16));
      }
    const __m256i b0 = _mm256_set1_epi32(bias ? bias[ch] : 0);
    const __m256 m = _mm256_set1_ps(mult[ch]);
    TY* yc = y + pc * p.oh * p.ow;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      const int64_t r0 = (int64_t)oy * p.sh;
      TY* yr = yc + (int64_t)oy * p.ow;
      for (int64_t o = 0; o < p.ow; o += step) {
        const int64_t count = std::min<int64_t>(step, p.ow - o);
        if (p.sw == 1) {
          const __m256i even = qdw_requant(qdw_window<KH, KW>(xp, cols, r0, o, p.kh, p.kw, wv, b0), m, flo, fhi, vzp);
          const __m256i odd = qdw_requant(qdw_window<KH, KW>(xp, cols, r0, o + 1, p.kh, p.kw, wv, b0), m, flo, fhi, vzp);
          // even = outputs o, o+2, ..., odd = o+1, o+3, ...: the in-lane unpacks give (0 1 2 3 | 8 9 10 11)
          // and (4 5 6 7 | 12 13 14 15); packing them per lane puts all 16 in order
          qdw_store(_mm256_packs_epi32(_mm256_unpacklo_epi32(even, odd), _mm256_unpackhi_epi32(even, odd)), count,
                    yr + o);
        } else {
          const __m256i v = qdw_requant(qdw_window<KH, KW>(xp, cols, r0, 2 * o, p.kh, p.kw, wv, b0), m, flo, fhi, vzp);
          qdw_store(_mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0xD8), count, yr + o);
        }
      }
    }
  }
}
}  // namespace detail
#endif

#if !LNE_HAVE_AVX2_FMA && LNE_QGEMM_NEON
namespace detail {
inline int32x4_t qdw_requant(int32x4_t acc, float32x4_t mult, float32x4_t flo, float32x4_t fhi, int32x4_t zp) {
  const float32x4_t v = vminq_f32(vmaxq_f32(vrndnq_f32(vmulq_f32(vcvtq_f32_s32(acc), mult)), flo), fhi);
  return vaddq_s32(vcvtnq_s32_f32(v), zp);
}

template <typename TX, typename TY>
inline void qdw_planes_neon(const QConvParams& p, const TX* x, const int8_t* w, const int32_t* bias,
                            const float* mult, TY* y, int16_t* xp) {
  const int64_t rows = qdw_rows(p), cols = qdw_cols(p);
  const float32x4_t flo = vdupq_n_f32((float)(p.lo - p.y_zp)), fhi = vdupq_n_f32((float)(p.hi - p.y_zp));
  const int32x4_t vzp = vdupq_n_s32(p.y_zp);
  std::memset(xp, 0, (size_t)(rows * cols) * sizeof(int16_t));
  for (int64_t pc = 0; pc < (int64_t)p.n * p.c; ++pc) {
    const int32_t ch = (int32_t)(pc % p.c);
    qdw_fill_plane(p, x, pc, xp);
    const int8_t* wc = w + (int64_t)ch * p.kh * p.kw;
    const int32x4_t b0 = vdupq_n_s32(bias ? bias[ch] : 0);
    const float32x4_t m = vdupq_n_f32(mult[ch]);
    TY* yc = y + pc * p.oh * p.ow;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      const int64_t r0 = (int64_t)oy * p.sh;
      for (int64_t o = 0; o < p.ow; o += 8) {
        int32x4_t a0 = b0, a1 = b0;
        for (int32_t ky = 0; ky < p.kh; ++ky) {
          const int16_t* row = xp + (r0 + ky) * cols + o * p.sw;
          for (int32_t kx = 0; kx < p.kw; ++kx) {
            const int16x8_t v = p.sw == 1 ? vld1q_s16(row + kx) : vld2q_s16(row + kx).val[0];
            const int16_t wk = wc[ky * p.kw + kx];
            a0 = vmlal_n_s16(a0, vget_low_s16(v), wk);
            a1 = vmlal_high_n_s16(a1, v, wk);
          }
        }
        const int16x8_t w16 = vcombine_s16(vqmovn_s32(qdw_requant(a0, m, flo, fhi, vzp)),
                                           vqmovn_s32(qdw_requant(a1, m, flo, fhi, vzp)));
        alignas(16) TY out[8];
        if (std::is_signed<TY>::value) {
          vst1_s8(reinterpret_cast<int8_t*>(out), vqmovn_s16(w16));
        } else {
          vst1_u8(reinterpret_cast<uint8_t*>(out), vqmovun_s16(w16));
        }
        std::memcpy(yc + (int64_t)oy * p.ow + o, out, (size_t)std::min<int64_t>(8, p.ow - o) * sizeof(TY));
      }
    }
  }
}
}  // namespace detail
#endif

template <typename TX, typename TY>
inline void qconv2d_depthwise_vec(const QConvParams& p, const TX* x, const int8_t* w, const int32_t* bias,
                                   const float* mult, TY* y, void* scratch) {
#if LNE_HAVE_AVX2_FMA
  int16_t* xp = static_cast<int16_t*>(scratch);
  if (p.kh == 3 && p.kw == 3) {
    detail::qdw_planes<3, 3>(p, x, w, bias, mult, y, xp);
  } else if (p.kh == 5 && p.kw == 5) {
    detail::qdw_planes<5, 5>(p, x, w, bias, mult, y, xp);
  } else {
    detail::qdw_planes<0, 0>(p, x, w, bias, mult, y, xp);
  }
#elif LNE_QGEMM_NEON
  detail::qdw_planes_neon(p, x, w, bias, mult, y, static_cast<int16_t*>(scratch));
#else
  (void)scratch;
  qconv2d_depthwise(p, x, w, bias, mult, y);
#endif
}

}  // namespace lne
