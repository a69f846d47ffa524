// LNE runtime: int8 GEMM / convolution with 32-bit accumulation that cannot overflow.
//
// Weights (int8, symmetric) are packed at compile time (lne/kernels/quant.py pack_weights) in
// panels of 16 output channels: [tiles][kp/2][16][2], kp = K rounded up to even, zero padded.
// Activations are widened to int16 with the zero point subtracted (|x - zp| <= 255) into column
// panels of 4 columns, [panel][kp/2][4][2] (from the input planes directly for a pointwise
// convolution, else through a padded int16 copy of the input window and staged im2col rows).
// AVX2: vpmaddwd multiplies 16-bit pairs and adds each pair into 32 bits: |pair| <= 2 * 255 * 128,
// so K < 65536 keeps every int32 sum exact (vpmaddubsw would saturate its 16-bit pair sums; it
// is not used). AArch64 NEON: smull/smlal into 32 bits, pairs summed at the end. Elsewhere:
// portable C++. Requantization is fused: bias, float multiplier per channel, round half to even
// (the default rounding mode), zero point, clamp (the fused activation).
#pragma once
#include <cstring>
#include <type_traits>

#include "kernels/quant/quant_ref.h"
#include "lne/common.h"
#include "lne/kernel_util.h"

#if defined(__ARM_NEON) && defined(__aarch64__) && !defined(LNE_DISABLE_SIMD)
#define LNE_QGEMM_NEON 1
#include <arm_neon.h>
#else
#define LNE_QGEMM_NEON 0
#endif

namespace lne {

struct QPack {
  int32_t k, kp, nb;  // K, K rounded up to even, column block (multiple of 16)
  int64_t scratch;    // bytes (lne/kernels/quant.py pack_scratch)
};

// Scratch: the packed column block (nb * kp int16), two staging rows (nb int16 each) and, for a
// convolution that is not pointwise, the padded input window of one group (int16).

namespace detail {

inline int32_t load_i32(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Column panels: panel p holds columns 4p..4p+3; for k pair kk its 8 int16 are
// (col 4p, k 2kk), (col 4p, k 2kk+1), (col 4p+1, k 2kk), ... at B + (p * kp/2 + kk) * 8.
// interleave_pair writes k pair kk from two staged rows r0 (k = 2kk) and r1 (k = 2kk+1) of nb
// (multiple of 16) columns.
inline void interleave_pair(const int16_t* r0, const int16_t* r1, int32_t nb, int32_t kk, int32_t kp2, int16_t* B) {
#if LNE_HAVE_AVX2_FMA
  for (int32_t n = 0; n < nb; n += 16) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + n));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + n));
    const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
    int16_t* d = B + ((int64_t)(n / 4) * kp2 + kk) * 8;
    const int64_t step = (int64_t)kp2 * 8;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm256_castsi256_si128(lo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + step), _mm256_castsi256_si128(hi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * step), _mm256_extracti128_si256(lo, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * step), _mm256_extracti128_si256(hi, 1));
  }
#else
  for (int32_t n = 0; n < nb; ++n) {
    int16_t* d = B + ((int64_t)(n / 4) * kp2 + kk) * 8 + (n % 4) * 2;
    d[0] = r0[n];
    d[1] = r1[n];
  }
#endif
}

// Pointwise convolution: k pair kk straight from two input planes s0 / s1 (s1 null: K is odd and
// this is the last pair), x - zp widened to int16; columns nb..nbp-1 are 0.
template <typename TX>
inline void interleave_planes(const TX* s0, const TX* s1, int32_t nb, int32_t nbp, int32_t zp, int32_t kk,
                              int32_t kp2, int16_t* B) {
  int32_t n = 0;
#if LNE_HAVE_AVX2_FMA
  if (sizeof(TX) == 1) {
    const __m256i vzp = _mm256_set1_epi16((int16_t)zp);
    const int64_t step = (int64_t)kp2 * 8;
    for (; n + 16 <= nb; n += 16) {
      const __m128i l0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s0 + n));
      const __m128i l1 = s1 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(s1 + n)) : _mm_setzero_si128();
      __m256i a, b;
      if (std::is_signed<TX>::value) {
        a = _mm256_cvtepi8_epi16(l0);
        b = _mm256_cvtepi8_epi16(l1);
      } else {
        a = _mm256_cvtepu8_epi16(l0);
        b = _mm256_cvtepu8_epi16(l1);
      }
      a = _mm256_sub_epi16(a, vzp);
      b = s1 ? _mm256_sub_epi16(b, vzp) : _mm256_setzero_si256();
      const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
      int16_t* d = B + ((int64_t)(n / 4) * kp2 + kk) * 8;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm256_castsi256_si128(lo));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + step), _mm256_castsi256_si128(hi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * step), _mm256_extracti128_si256(lo, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * step), _mm256_extracti128_si256(hi, 1));
    }
  }
#endif
  for (; n < nbp; ++n) {
    int16_t* d = B + ((int64_t)(n / 4) * kp2 + kk) * 8 + (n % 4) * 2;
    d[0] = n < nb ? (int16_t)((int32_t)s0[n] - zp) : (int16_t)0;
    d[1] = (n < nb && s1) ? (int16_t)((int32_t)s1[n] - zp) : (int16_t)0;
  }
}

// The padded input window of one group: xp[ci][r][c] = x[ci][r - pt][c - pl] - zp inside the
// image, 0 in the padding; rows qpad_rows(), columns qpad_cols() (what the windows reach).
inline int64_t qpad_rows(const QConvParams& p) { return (int64_t)(p.oh - 1) * p.sh + (int64_t)(p.kh - 1) * p.dh + 1; }
inline int64_t qpad_cols(const QConvParams& p) { return (int64_t)(p.ow - 1) * p.sw + (int64_t)(p.kw - 1) * p.dw + 1; }

template <typename TX>
inline void pad_input(const QConvParams& p, const TX* xg, int16_t* xp) {
  const int32_t cg = p.c / p.group;
  const int64_t hp = qpad_rows(p), wp = qpad_cols(p);
  int64_t c0, c1;  // padded columns [c0, c1) that are inside the image
  c0 = std::min<int64_t>(p.pl, wp);
  c1 = std::max<int64_t>(c0, std::min<int64_t>(wp, (int64_t)p.pl + p.w));
  for (int32_t ci = 0; ci < cg; ++ci)
    for (int64_t r = 0; r < hp; ++r) {
      int16_t* d = xp + ((int64_t)ci * hp + r) * wp;
      const int64_t iy = r - p.pt;
      if (iy < 0 || iy >= p.h) {
        for (int64_t c = 0; c < wp; ++c) d[c] = 0;
        continue;
      }
      const TX* xr = xg + ((int64_t)ci * p.h + iy) * p.w - p.pl;
      if (p.sw == 2) {  // even columns, then odd ones: stride-2 windows read contiguous runs
        const int64_t half = (wp + 1) / 2;
        for (int64_t c = 0; c < wp; ++c)
          d[(c & 1) ? half + (c >> 1) : (c >> 1)] = (c >= c0 && c < c1) ? (int16_t)((int32_t)xr[c] - p.x_zp) : (int16_t)0;
        continue;
      }
      for (int64_t c = 0; c < c0; ++c) d[c] = 0;
      for (int64_t c = c0; c < c1; ++c) d[c] = (int16_t)((int32_t)xr[c] - p.x_zp);
      for (int64_t c = c1; c < wp; ++c) d[c] = 0;
    }
}

// Staged row k of the (virtual) im2col matrix for output positions [n0, n0 + nb), read from the
// padded window xp; positions past the end (up to nbp) are 0.
inline void im2col_row(const QConvParams& p, const int16_t* xp, int32_t k, int64_t n0, int32_t nb, int32_t nbp,
                       int16_t* r) {
  const int32_t kx = k % p.kw, ky = (k / p.kw) % p.kh, ci = k / (p.kw * p.kh);
  const int64_t hp = qpad_rows(p), wp = qpad_cols(p);
  const int16_t* xc = xp + ((int64_t)ci * hp + (int64_t)ky * p.dh) * wp;
  const int64_t sw = p.sw, rstride = (int64_t)p.sh * wp, half = (wp + 1) / 2;
  int32_t j = 0;
  int64_t oy = n0 / p.ow, ox = n0 % p.ow;
  while (j < nb) {
    const int32_t seg = (int32_t)std::min<int64_t>(p.ow - ox, nb - j);  // rest of this output row
    const int64_t c0 = ox * sw + (int64_t)kx * p.dw;  // padded column of the first tap
    int16_t* d = r + j;
    if (sw == 1) {
      const int16_t* src = xc + oy * rstride + c0;
      for (int32_t i = 0; i < seg; ++i) d[i] = src[i];
    } else if (sw == 2) {  // rows stored even columns first (pad_input)
      const int16_t* src = xc + oy * rstride + ((c0 & 1) ? half + (c0 >> 1) : (c0 >> 1));
      for (int32_t i = 0; i < seg; ++i) d[i] = src[i];
    } else {
      const int16_t* src = xc + oy * rstride + c0;
      for (int32_t i = 0; i < seg; ++i) d[i] = src[i * sw];
    }
    j += seg;
    ox = 0;
    ++oy;
  }
  for (int32_t i = nb; i < nbp; ++i) r[i] = 0;
}

constexpr int32_t kQTile = 16;  // output channels per weight panel (2 AVX2 vectors of 8 int32)

// Channels of weight panel t of a group of mg channels: 16, or 8 for a last panel of <= 8
// channels (no work on 8 zero channels). Bytes of one group's panels: qpanel_bytes.
inline int32_t qpanel_width(int32_t mg, int32_t t) {
  const int32_t rem = mg - t * kQTile;
  return rem < kQTile && rem <= 8 ? 8 : kQTile;
}
inline int64_t qpanel_bytes(int32_t mg, int32_t kp) {
  const int32_t full = mg / kQTile, rem = mg % kQTile;
  return ((int64_t)full * kQTile + (rem == 0 ? 0 : rem <= 8 ? 8 : kQTile)) * kp;
}

// x - zp as int16, n values of an 8-bit input row.
template <typename TX>
inline void widen_row(const TX* x, int64_t n, int32_t zp, int16_t* dst) {
  int64_t i = 0;
#if LNE_HAVE_AVX2_FMA
  const __m256i z = _mm256_set1_epi16((int16_t)zp);
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    const __m256i v = std::is_signed<TX>::value ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_sub_epi16(v, z));
  }
#endif
  for (; i < n; ++i) dst[i] = (int16_t)((int32_t)x[i] - zp);
}

#if LNE_HAVE_AVX2_FMA
// 16 packed weights as int16 lanes: int8 panels are widened, int16 panels (integer Winograd) loaded.
inline __m256i load_w16(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i load_w16(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
#endif

// y[m * stride_m + col * stride_n] for m < mg, col < ncols: packed weights times column panels.
// mult == nullptr: the raw int32 sums (plus bias) are stored, TY = int32_t (integer Winograd);
// int16 weight panels (TW) only there, on AVX2.
// Register block: 16 channels x 4 columns = 8 accumulators, 2 weight vectors, 1 broadcast, 1 product
// (24 x 4 needs 17 registers and spills).
template <typename TY, typename TW = int8_t>
inline void qgemm_panels(int32_t mg, int32_t kp, const TW* wpack, const int16_t* B, int32_t ncols,
                         const int32_t* bias, const float* mult, int32_t y_zp, int32_t lo, int32_t hi, TY* y,
                         int64_t stride_m, int64_t stride_n) {
  const int32_t tiles = (mg + kQTile - 1) / kQTile, kp2 = kp / 2;
  for (int32_t t = 0; t < tiles; ++t) {
    const TW* wt = wpack + (int64_t)t * kp * kQTile;
    const int32_t m0 = t * kQTile, mcount = std::min(kQTile, mg - m0), tw = qpanel_width(mg, t);
    alignas(32) int32_t biasT[kQTile] = {0};
    alignas(32) float multT[kQTile] = {0};
    for (int32_t i = 0; i < mcount; ++i) {
      biasT[i] = bias ? bias[m0 + i] : 0;
      multT[i] = mult ? mult[m0 + i] : 0.0f;
    }
    for (int32_t n0 = 0; n0 < ncols; n0 += 4) {
      const int16_t* bp = B + (int64_t)(n0 / 4) * kp2 * 8;
      const int32_t jn = std::min(4, ncols - n0);
      alignas(32) int32_t out[4][kQTile];
#if LNE_HAVE_AVX2_FMA
      // named accumulators: GCC spills an accumulator array here
      __m256i a00 = _mm256_setzero_si256(), a01 = a00, a02 = a00, a03 = a00;
      __m256i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      const TW* wk = wt;
      const int16_t* bk = bp;
      if (tw == 8) {
        for (int32_t kk = 0; kk < kp2; ++kk, wk += 16, bk += 8) {
          const __m256i w0 = load_w16(wk);
          a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(w0, _mm256_set1_epi32(load_i32(bk))));
          a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(w0, _mm256_set1_epi32(load_i32(bk + 2))));
          a02 = _mm256_add_epi32(a02, _mm256_madd_epi16(w0, _mm256_set1_epi32(load_i32(bk + 4))));
          a03 = _mm256_add_epi32(a03, _mm256_madd_epi16(w0, _mm256_set1_epi32(load_i32(bk + 6))));
        }
      }
      for (int32_t kk = 0; tw == kQTile && kk < kp2; ++kk, wk += 2 * kQTile, bk += 8) {
        const __m256i w0 = load_w16(wk), w1 = load_w16(wk + 16);
        __m256i b = _mm256_set1_epi32(load_i32(bk));
        a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(w0, b));
        a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(w1, b));
        b = _mm256_set1_epi32(load_i32(bk + 2));
        a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(w0, b));
        a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(w1, b));
        b = _mm256_set1_epi32(load_i32(bk + 4));
        a02 = _mm256_add_epi32(a02, _mm256_madd_epi16(w0, b));
        a12 = _mm256_add_epi32(a12, _mm256_madd_epi16(w1, b));
        b = _mm256_set1_epi32(load_i32(bk + 6));
        a03 = _mm256_add_epi32(a03, _mm256_madd_epi16(w0, b));
        a13 = _mm256_add_epi32(a13, _mm256_madd_epi16(w1, b));
      }
      const __m256i acc[2][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}};
      const __m256 flo = _mm256_set1_ps((float)(lo - y_zp)), fhi = _mm256_set1_ps((float)(hi - y_zp));
      const __m256i vzp = _mm256_set1_epi32(y_zp);
      for (int j = 0; j < jn; ++j)
        for (int h = 0; h < tw / 8; ++h) {
          __m256i a = _mm256_add_epi32(acc[h][j], _mm256_load_si256(reinterpret_cast<const __m256i*>(biasT + 8 * h)));
          if (!mult) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(out[j] + 8 * h), a);
            continue;
          }
          __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_load_ps(multT + 8 * h));
          v = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), flo), fhi);
          _mm256_store_si256(reinterpret_cast<__m256i*>(out[j] + 8 * h), _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp));
        }
#elif LNE_QGEMM_NEON
      // smull/smlal: 16-bit products accumulated in 32 bits unpaired, pairs summed at the end
      // (|x - zp| * |w| <= 255 * 128, K < 65536: no overflow). Two columns per pass.
      for (int j0 = 0; j0 < jn; j0 += 2) {
        int32x4_t acc[2][4][2];
        for (int j = 0; j < 2; ++j)
          for (int gq = 0; gq < 4; ++gq) acc[j][gq][0] = acc[j][gq][1] = vdupq_n_s32(0);
        const int8_t* wk = wt;
        const int16_t* bk = bp + 2 * j0;
        const int ng = tw / 4;
        for (int32_t kk = 0; kk < kp2; ++kk, wk += 2 * tw, bk += 8) {
          const int8x16_t wa = vld1q_s8(wk), wb = tw == kQTile ? vld1q_s8(wk + 16) : vdupq_n_s8(0);
          const int16x8_t wq[4] = {vmovl_s8(vget_low_s8(wa)), vmovl_high_s8(wa), vmovl_s8(vget_low_s8(wb)),
                                   vmovl_high_s8(wb)};
          for (int j = 0; j < 2; ++j) {
            const int16x8_t b = vreinterpretq_s16_s32(vdupq_n_s32(load_i32(bk + 2 * j)));
            for (int gq = 0; gq < ng; ++gq) {
              acc[j][gq][0] = vmlal_s16(acc[j][gq][0], vget_low_s16(wq[gq]), vget_low_s16(b));
              acc[j][gq][1] = vmlal_high_s16(acc[j][gq][1], wq[gq], b);
            }
          }
        }
        for (int j = 0; j < 2 && j0 + j < jn; ++j)
          for (int gq = 0; gq < ng; ++gq) {
            alignas(16) int32_t sums[4];
            vst1q_s32(sums, vpaddq_s32(acc[j][gq][0], acc[j][gq][1]));
            for (int i = 0; i < 4; ++i)
              out[j0 + j][4 * gq + i] = mult ? requantize<int32_t>(sums[i] + biasT[4 * gq + i], multT[4 * gq + i], y_zp, lo, hi)
                                             : sums[i] + biasT[4 * gq + i];
          }
      }
#else
      for (int j = 0; j < jn; ++j)
        for (int32_t i = 0; i < tw; ++i) {
          int32_t acc = biasT[i];
          for (int32_t kk = 0; kk < kp2; ++kk)
            acc += (int32_t)wt[kk * 2 * tw + 2 * i] * bp[kk * 8 + 2 * j] +
                   (int32_t)wt[kk * 2 * tw + 2 * i + 1] * bp[kk * 8 + 2 * j + 1];
          out[j][i] = mult ? requantize<int32_t>(acc, multT[i], y_zp, lo, hi) : acc;
        }
#endif
      if (sizeof(TY) == 1 && jn == 4 && stride_n == 1) {  // 4 consecutive bytes per channel
        TY* y0 = y + n0 + (int64_t)m0 * stride_m;
        for (int32_t i = 0; i < mcount; ++i) {
          const TY v[4] = {(TY)out[0][i], (TY)out[1][i], (TY)out[2][i], (TY)out[3][i]};
          std::memcpy(y0 + i * stride_m, v, 4);
        }
      } else {
        for (int j = 0; j < jn; ++j) {
          TY* yj = y + (int64_t)(n0 + j) * stride_n + (int64_t)m0 * stride_m;
          for (int32_t i = 0; i < mcount; ++i) yj[i * stride_m] = (TY)out[j][i];
        }
      }
    }
  }
}

#if LNE_HAVE_AVX2_FMA
// int16 x int16 (16-bit fixed point): the same panels, vpmaddwd pair sums (|pair| < 2^31 with
// symmetric weights, |w| <= 32767) accumulated in int64 lanes: 8 channels x 4 columns at a time.
template <typename TY>
inline void qgemm_panels_i64(int32_t mg, int32_t kp, const int16_t* wpack, const int16_t* B, int32_t ncols,
                             const int32_t* bias, const float* mult, int32_t y_zp, int32_t lo, int32_t hi, TY* y,
                             int64_t stride_m, int64_t stride_n) {
  const int32_t tiles = (mg + kQTile - 1) / kQTile, kp2 = kp / 2;
  for (int32_t t = 0; t < tiles; ++t) {
    const int16_t* wt = wpack + (int64_t)t * kp * kQTile;
    const int32_t m0 = t * kQTile, tw = qpanel_width(mg, t);
    for (int32_t half = 0; half < tw / 8; ++half) {
      const int32_t c0 = m0 + 8 * half, ccount = std::min(8, mg - c0);
      if (ccount <= 0) break;
      for (int32_t n0 = 0; n0 < ncols; n0 += 4) {
        const int16_t* bk = B + (int64_t)(n0 / 4) * kp2 * 8;
        const int16_t* wk = wt + 16 * half;
        __m256i acc[4][2];  // [column][channels 0-3 | 4-7] as int64
        for (int j = 0; j < 4; ++j) acc[j][0] = acc[j][1] = _mm256_setzero_si256();
        for (int32_t kk = 0; kk < kp2; ++kk, wk += 2 * tw, bk += 8) {
          const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wk));
          for (int j = 0; j < 4; ++j) {
            const __m256i s = _mm256_madd_epi16(w, _mm256_set1_epi32(load_i32(bk + 2 * j)));
            acc[j][0] = _mm256_add_epi64(acc[j][0], _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s)));
            acc[j][1] = _mm256_add_epi64(acc[j][1], _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s, 1)));
          }
        }
        const int32_t jn = std::min(4, ncols - n0);
        for (int j = 0; j < jn; ++j) {
          alignas(32) int64_t sums[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(sums), acc[j][0]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 4), acc[j][1]);
          TY* yj = y + (int64_t)(n0 + j) * stride_n + (int64_t)c0 * stride_m;
          for (int32_t i = 0; i < ccount; ++i)
            yj[i * stride_m] = requantize<TY>(sums[i] + (bias ? bias[c0 + i] : 0), mult[c0 + i], y_zp, lo, hi);
        }
      }
    }
  }
}
#endif

// The panel product for the weights' type: int8 (32-bit sums) or int16 (64-bit sums, AVX2).
template <typename TW, typename TY>
inline void qgemm_any(int32_t mg, int32_t kp, const TW* wpack, const int16_t* B, int32_t ncols, const int32_t* bias,
                      const float* mult, int32_t y_zp, int32_t lo, int32_t hi, TY* y, int64_t stride_m,
                      int64_t stride_n) {
  if constexpr (sizeof(TW) == 2) {
#if LNE_HAVE_AVX2_FMA
    qgemm_panels_i64(mg, kp, wpack, B, ncols, bias, mult, y_zp, lo, hi, y, stride_m, stride_n);
#else
    static_assert(sizeof(TW) == 1, "int16 packed kernels need AVX2");
#endif
  } else {
    qgemm_panels(mg, kp, wpack, B, ncols, bias, mult, y_zp, lo, hi, y, stride_m, stride_n);
  }
}

}  // namespace detail

// Grouped / dense int8 convolution: per group, blocks of nb output positions are packed into
// column panels (scratch) and multiplied by the packed weight panels of that group.
template <typename TX, typename TW, typename TY>
inline void qconv2d_packed(const QConvParams& p, const QPack& q, const TX* x, const TW* wpack,
                           const int32_t* bias, const float* mult, TY* y, void* scratch) {
  int16_t* B = static_cast<int16_t*>(scratch);
  int16_t* r0 = B + (int64_t)q.nb * q.kp;
  int16_t* r1 = r0 + q.nb;
  int16_t* xp = r1 + q.nb;  // padded input window (not for pointwise convolutions)
  const int32_t cg = p.c / p.group, mg = p.m / p.group, kp2 = q.kp / 2;
  const int64_t npos = (int64_t)p.oh * p.ow;
  const int64_t group_pack = detail::qpanel_bytes(mg, q.kp);
  const int64_t hw = (int64_t)p.h * p.w;
  const bool pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
                         p.oh == p.h && p.ow == p.w;
  for (int32_t b = 0; b < p.n; ++b)
    for (int32_t g = 0; g < p.group; ++g) {
      const TX* xg = x + ((int64_t)b * p.c + (int64_t)g * cg) * p.h * p.w;
      TY* yg = y + ((int64_t)b * p.m + (int64_t)g * mg) * npos;
      if (!pointwise) detail::pad_input(p, xg, xp);
      for (int64_t n0 = 0; n0 < npos; n0 += q.nb) {
        const int32_t nb = (int32_t)std::min<int64_t>(q.nb, npos - n0);
        const int32_t nbp = (nb + 15) / 16 * 16;
        if (pointwise) {
          const TX* xs = xg + n0;
          for (int32_t kk = 0; kk < kp2; ++kk)
            detail::interleave_planes(xs + 2 * kk * hw, 2 * kk + 1 < q.k ? xs + (2 * kk + 1) * hw : nullptr, nb, nbp,
                                      p.x_zp, kk, kp2, B);
        } else {
          for (int32_t kk = 0; kk < kp2; ++kk) {
          detail::im2col_row(p, xp, 2 * kk, n0, nb, nbp, r0);
          if (2 * kk + 1 < q.k) {
            detail::im2col_row(p, xp, 2 * kk + 1, n0, nb, nbp, r1);
          } else {
            for (int32_t i = 0; i < nbp; ++i) r1[i] = 0;
          }
          detail::interleave_pair(r0, r1, nbp, kk, kp2, B);
          }
        }
        detail::qgemm_any(mg, q.kp, wpack + g * group_pack, B, nb, bias ? bias + g * mg : nullptr,
                             mult + g * mg, p.y_zp, p.lo, p.hi, yg + n0, npos, 1);
      }
    }
}

// Fully connected: x [rows, k] times packed w [n, k]; rows in blocks of nb.
template <typename TX, typename TW, typename TY>
inline void qgemm_packed(const QGemmParams& p, const QPack& q, const TX* x, const TW* wpack,
                         const int32_t* bias, const float* mult, TY* y, void* scratch) {
  int16_t* B = static_cast<int16_t*>(scratch);
  const int32_t kp2 = q.kp / 2;
  for (int64_t r0 = 0; r0 < p.rows; r0 += q.nb) {
    const int32_t nb = (int32_t)std::min<int64_t>(q.nb, p.rows - r0);
    const int32_t nbp = (nb + 3) / 4 * 4;
    for (int32_t j = 0; j < nbp; ++j)
      for (int32_t i = 0; i < q.kp; ++i) {
        const int16_t v = (j < nb && i < p.k) ? (int16_t)((int32_t)x[(r0 + j) * p.k + i] - p.x_zp) : (int16_t)0;
        B[((int64_t)(j / 4) * kp2 + i / 2) * 8 + (j % 4) * 2 + (i % 2)] = v;
      }
    if constexpr (std::is_floating_point<TY>::value && sizeof(TW) == 1) {  // float output: raw sums, then * mult
      int32_t* acc = reinterpret_cast<int32_t*>(y + r0 * p.n);
      detail::qgemm_panels<int32_t, TW>(p.n, q.kp, wpack, B, nb, bias, nullptr, 0, 0, 0, acc, 1, p.n);
      for (int64_t i = 0; i < (int64_t)nb * p.n; ++i) {
        int32_t v;
        std::memcpy(&v, acc + i, sizeof v);
        y[r0 * p.n + i] = static_cast<float>(v) * mult[i % p.n];
      }
    } else {
      detail::qgemm_any(p.n, q.kp, wpack, B, nb, bias, mult, p.y_zp, p.lo, p.hi, y + r0 * p.n, 1, p.n);
    }
  }
}

}  // namespace lne
