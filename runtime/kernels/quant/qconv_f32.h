// LNE runtime: a quantized convolution computed by an fp32 kernel (Winograd), for layers where
// fp32 arithmetic is faster than the int8 GEMM. Tensors stay quantized: the input's integers
// minus the zero point are converted to float (exact), the fp32 kernel runs on the integer weights
// (as floats, transformed at compile time) and the int32 bias (as float), and the float
// accumulator is requantized like the integer one (round half to even, zero point, clamp).
// Not exact: the Winograd transforms round in fp32, so where the exact value is within ~1e-6 of a
// rounding tie the result can be one step off (KernelDef.exact = False; `lne compile --exact`
// leaves this kernel out).
#pragma once
#include "kernels/conv/conv_winograd.h"
#include "kernels/quant/quant_ref.h"
#include "lne/kernel_util.h"

#include <cstring>
#include <type_traits>

namespace lne {

// Scratch: n*c*h*w floats (input), n*m*oh*ow floats (accumulator), then the fp32 kernel's scratch.
template <typename TX, typename TY, typename Conv>
inline void qconv2d_via_f32(const QConvParams& q, const ConvParams& p, Conv conv, const TX* x, const float* w,
                            const float* bias, const float* mult, TY* y, void* scratch) {
  float* xf = static_cast<float*>(scratch);
  const int64_t nx = (int64_t)p.n * p.c * p.h * p.w, planes = (int64_t)p.n * p.m, hw = (int64_t)p.oh * p.ow;
  float* acc = xf + nx;
  int64_t i0 = 0;
#if LNE_HAVE_AVX2_FMA
  if (sizeof(TX) == 1) {
    const __m256i zp = _mm256_set1_epi32(q.x_zp);
    for (; i0 + 8 <= nx; i0 += 8) {
      int64_t raw;
      std::memcpy(&raw, x + i0, 8);
      const __m128i b = _mm_cvtsi64_si128(raw);
      const __m256i v = std::is_signed<TX>::value ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
      _mm256_storeu_ps(xf + i0, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, zp)));
    }
  }
#endif
  for (int64_t i = i0; i < nx; ++i) xf[i] = (float)((int32_t)x[i] - q.x_zp);
  conv(p, xf, w, bias, acc, acc + planes * hw);
  for (int64_t pc = 0; pc < planes; ++pc) {
    const float s = mult[pc % p.m];
    const float* a = acc + pc * hw;
    TY* yc = y + pc * hw;
    int64_t i = 0;
#if LNE_HAVE_AVX2_FMA
    if (sizeof(TY) == 1) {
      const __m256 vs = _mm256_set1_ps(s), zp = _mm256_set1_ps((float)q.y_zp);
      const __m256 flo = _mm256_set1_ps((float)q.lo), fhi = _mm256_set1_ps((float)q.hi);
      for (; i + 8 <= hw; i += 8) {
        __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(a + i), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, zp), flo), fhi);
        const __m256i r = _mm256_cvtps_epi32(v);  // 8 int32 in the output type's range
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        const __m128i w8 = std::is_signed<TY>::value ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
        const int64_t bytes = _mm_cvtsi128_si64(w8);
        std::memcpy(yc + i, &bytes, 8);
      }
    }
#endif
    for (; i < hw; ++i) {
      float v = std::nearbyint(a[i] * s) + (float)q.y_zp;
      v = v < (float)q.lo ? (float)q.lo : (v > (float)q.hi ? (float)q.hi : v);
      yc[i] = (TY)(int32_t)v;
    }
  }
}

}  // namespace lne
