// LNE runtime: int8 convolution (one group) with the Armv8.2 dot product, sdot (targets with the
// dotprod feature, e.g. rpi5 = Cortex-A76). Exact: the same integer sums as qconv2d_ref.
//
// sdot multiplies signed bytes, so 8-bit inputs are shifted into int8: x' = x - off (off = 128
// for uint8, 0 for int8) and zq = x_zp - off. Then sum (x - x_zp) w = sum x' w - zq sum w: the
// second term is folded into a per-channel constant with the bias, and the padding of the
// im2col matrix holds zq (its contribution x' - zq is 0). |x'| <= 128 and |w| <= 128: a 4-term
// dot product stays below 2^16, so K < 32768 keeps every int32 sum exact.
// Weights (lne/kernels/qdot.py) are packed in tiles of 16 output channels, [tiles][kq][16][4]
// (kq = ceil(K / 4), zero padded); the im2col block in column panels [nb / 4][kq][4][4]. One
// step: 4 weight vectors (4 channels x 4 k each) times one panel vector (4 columns x 4 k), lane
// by lane: 16 int32x4 accumulators = 16 channels x 4 columns.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/quant/quant_ref.h"
#include "lne/kernel_util.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD) && !defined(LNE_DISABLE_SIMD)
#define LNE_QDOT 1
#include <arm_neon.h>
#else
#define LNE_QDOT 0
#endif

namespace lne {

struct QDotPack {
  int32_t k, kq, nb;  // K, ceil(K / 4), columns per block (multiple of 4)
  int64_t scratch;    // bytes: the im2col block (nb * kq * 4) and 16-aligned per-channel constants
};

template <typename TX, typename TY>
inline void qconv2d_dot(const QConvParams& p, const QDotPack& q, const TX* x, const int8_t* wpack,
                        const int32_t* bias, const float* mult, TY* y, void* scratch) {
#if LNE_QDOT
  const int32_t off = std::is_signed<TX>::value ? 0 : 128, zq = p.x_zp - off;
  const int32_t tiles = (p.m + 15) / 16;
  const int64_t npos = (int64_t)p.oh * p.ow, bbytes = ((int64_t)q.nb * q.kq * 4 + 15) / 16 * 16;
  int8_t* B = static_cast<int8_t*>(scratch);
  int32_t* base = reinterpret_cast<int32_t*>(B + bbytes);  // bias - zq * sum(w), per channel
  for (int32_t m = 0; m < p.m; ++m) {
    const int8_t* wt = wpack + (int64_t)(m / 16) * q.kq * 64 + (m % 16) * 4;
    int32_t s = 0;
    for (int32_t kk = 0; kk < q.kq; ++kk)
      for (int j = 0; j < 4; ++j) s += wt[kk * 64 + j];
    base[m] = (bias ? bias[m] : 0) - zq * s;
  }
  const int32_t khw = p.kh * p.kw;
  for (int32_t b = 0; b < p.n; ++b) {
    const TX* xb = x + (int64_t)b * p.c * p.h * p.w;
    TY* yb = y + (int64_t)b * p.m * npos;
    for (int64_t n0 = 0; n0 < npos; n0 += q.nb) {
      const int32_t nb = (int32_t)std::min<int64_t>(q.nb, npos - n0), nbp = (nb + 3) / 4 * 4;
      for (int32_t col = 0; col < nbp; ++col) {  // im2col block (x' values, zq in the padding)
        const int64_t pos = n0 + std::min(col, nb - 1);
        const int64_t oy = pos / p.ow, ox = pos % p.ow;
        int8_t* dst = B + (int64_t)(col / 4) * q.kq * 16 + (col % 4) * 4;
        for (int32_t k = 0; k < q.kq * 4; ++k) {
          int32_t v = 0;
          if (k < q.k) {
            const int32_t ci = k / khw, ky = (k / p.kw) % p.kh, kx = k % p.kw;
            const int64_t iy = oy * p.sh - p.pt + (int64_t)ky * p.dh, ix = ox * p.sw - p.pl + (int64_t)kx * p.dw;
            v = (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) ? (int32_t)xb[((int64_t)ci * p.h + iy) * p.w + ix] - off
                                                             : zq;
          }
          dst[(int64_t)(k / 4) * 16 + (k % 4)] = (int8_t)v;
        }
      }
      for (int32_t t = 0; t < tiles; ++t) {
        const int8_t* wt = wpack + (int64_t)t * q.kq * 64;
        for (int32_t c0 = 0; c0 < nb; c0 += 4) {
          const int8_t* bp = B + (int64_t)(c0 / 4) * q.kq * 16;
          int32x4_t acc[4][4];
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
          for (int32_t kk = 0; kk < q.kq; ++kk) {
            const int8x16_t bv = vld1q_s8(bp + (int64_t)kk * 16);
            for (int i = 0; i < 4; ++i) {
              const int8x16_t wv = vld1q_s8(wt + (int64_t)kk * 64 + 16 * i);
              acc[i][0] = vdotq_laneq_s32(acc[i][0], wv, bv, 0);
              acc[i][1] = vdotq_laneq_s32(acc[i][1], wv, bv, 1);
              acc[i][2] = vdotq_laneq_s32(acc[i][2], wv, bv, 2);
              acc[i][3] = vdotq_laneq_s32(acc[i][3], wv, bv, 3);
            }
          }
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4 && c0 + j < nb; ++j) {
              alignas(16) int32_t s[4];
              vst1q_s32(s, acc[i][j]);
              for (int l = 0; l < 4; ++l) {
                const int32_t m = t * 16 + 4 * i + l;
                if (m < p.m) yb[(int64_t)m * npos + n0 + c0 + j] = requantize<TY>(s[l] + base[m], mult[m], p.y_zp, p.lo, p.hi);
              }
            }
        }
      }
    }
  }
#else
  static_assert(sizeof(TX) == 0, "qconv2d_dot needs an AArch64 target with the dotprod feature");
  (void)p, (void)q, (void)x, (void)wpack, (void)bias, (void)mult, (void)y, (void)scratch;
#endif
}

}  // namespace lne
