// LNE runtime: quantized (int8 / uint8 / int16) kernels, portable reference versions.
// Semantics (lne/ops/quant.py is the numpy oracle):
//   quantize    q = saturate(round_half_even(x / scale) + zp)
//   dequantize  x = (q - zp) * scale
//   QConv/QGemm acc = bias + sum (x - x_zp) * w  (int32 for 8-bit data, int64 for 16-bit)
//               y = clamp(round_half_even(float(acc) * mult[channel]) + y_zp, lo, hi)
// lo / hi carry the fused activation (Relu: lo = y_zp) and the output type's range.
#pragma once
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_ref.h"
#include "kernels/pool/pool_ref.h"

namespace lne {

struct QConvParams {
  int32_t n, c, h, w;
  int32_t m, oh, ow;
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pt, pl;
  int32_t group;
  int32_t x_zp, y_zp, lo, hi;
};

struct QGemmParams {
  int32_t rows, n, k;  // x [rows, k], w [n, k], y [rows, n]
  int32_t x_zp, y_zp, lo, hi;
};

// Accumulator: 32-bit for 8-bit operands (|x - zp| <= 255, |w| <= 128, K < 65536 cannot overflow),
// 64-bit for 16-bit operands.
template <typename TX> struct QAcc { typedef int32_t type; };
template <> struct QAcc<int16_t> { typedef int64_t type; };
template <> struct QAcc<uint16_t> { typedef int64_t type; };

// A float output (QGemm whose result stays float): float(acc) * mult, mult = x_scale * w_scale.
template <typename TY, typename ACC>
inline TY requantize(ACC acc, float mult, int32_t y_zp, int32_t lo, int32_t hi) {
  if constexpr (std::is_floating_point<TY>::value) return static_cast<float>(acc) * mult;
  float v = std::nearbyint(static_cast<float>(acc) * mult) + static_cast<float>(y_zp);
  v = v < static_cast<float>(lo) ? static_cast<float>(lo) : v;
  v = v > static_cast<float>(hi) ? static_cast<float>(hi) : v;
  return static_cast<TY>(static_cast<int32_t>(v));
}

template <typename TX, typename TW, typename TY>
inline void qconv2d_ref(const QConvParams& p, const TX* x, const TW* w, const int32_t* bias, const float* mult,
                        TY* y) {
  typedef typename QAcc<TX>::type ACC;
  conv2d_direct<ACC>(
      p, x, w, [&](int32_t m) { return (ACC)(bias ? bias[m] : 0); },
      [&](TX v) { return (ACC)((int32_t)v - p.x_zp); },
      [&](int32_t m, int64_t i, ACC acc) { y[i] = requantize<TY>(acc, mult[m], p.y_zp, p.lo, p.hi); });
}

// Depthwise (group == c == m): one plane at a time, the interior without bound checks.
template <typename TX, typename TW, typename TY>
inline void qconv2d_depthwise(const QConvParams& p, const TX* x, const TW* w, const int32_t* bias,
                              const float* mult, TY* y) {
  typedef typename QAcc<TX>::type ACC;
  const int32_t taps = p.kh * p.kw;
  for (int64_t pc = 0; pc < (int64_t)p.n * p.c; ++pc) {
    const int32_t ch = (int32_t)(pc % p.c);
    const TX* xc = x + pc * p.h * p.w;
    const TW* wc = w + (int64_t)ch * taps;
    TY* yc = y + pc * p.oh * p.ow;
    const ACC b0 = bias ? bias[ch] : 0;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      int64_t ky0, ky1;
      detail::valid_range(p.kh, p.dh, (int64_t)oy * p.sh - p.pt, p.h, &ky0, &ky1);
      for (int32_t ox = 0; ox < p.ow; ++ox) {
        ACC acc = b0;
        const int64_t ix0 = (int64_t)ox * p.sw - p.pl;
        const bool inside = ix0 >= 0 && ix0 + (int64_t)(p.kw - 1) * p.dw < p.w;
        for (int64_t ky = ky0; ky < ky1; ++ky) {
          const TX* xr = xc + ((int64_t)oy * p.sh - p.pt + ky * p.dh) * p.w;
          const TW* wr = wc + ky * p.kw;
          if (inside) {
            for (int32_t kx = 0; kx < p.kw; ++kx)
              acc += (ACC)((int32_t)xr[ix0 + (int64_t)kx * p.dw] - p.x_zp) * (ACC)wr[kx];
          } else {
            for (int32_t kx = 0; kx < p.kw; ++kx) {
              const int64_t ix = ix0 + (int64_t)kx * p.dw;
              if (ix >= 0 && ix < p.w) acc += (ACC)((int32_t)xr[ix] - p.x_zp) * (ACC)wr[kx];
            }
          }
        }
        yc[(int64_t)oy * p.ow + ox] = requantize<TY>(acc, mult[ch], p.y_zp, p.lo, p.hi);
      }
    }
  }
}

template <typename TX, typename TW, typename TY>
inline void qgemm_ref(const QGemmParams& p, const TX* x, const TW* w, const int32_t* bias, const float* mult, TY* y) {
  typedef typename QAcc<TX>::type ACC;
  for (int32_t r = 0; r < p.rows; ++r)
    for (int32_t j = 0; j < p.n; ++j) {
      ACC acc = bias ? bias[j] : 0;
      const TX* xr = x + (int64_t)r * p.k;
      const TW* wr = w + (int64_t)j * p.k;
      for (int32_t i = 0; i < p.k; ++i) acc += (ACC)((int32_t)xr[i] - p.x_zp) * (ACC)wr[i];
      y[(int64_t)r * p.n + j] = requantize<TY>(acc, mult[j], p.y_zp, p.lo, p.hi);
    }
}

// x viewed as [outer, axis_len, inner]; scale / zp indexed by the axis (axis_len == 1: per tensor).
template <typename TQ>
inline void quantize_linear_ref(int64_t outer, int64_t axis_len, int64_t inner, const float* scale,
                                const int32_t* zp, const float* x, TQ* y) {
  const float lo = (float)std::numeric_limits<TQ>::lowest(), hi = (float)std::numeric_limits<TQ>::max();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < axis_len; ++a) {
      const float s = scale[a], z = (float)zp[a];
      const float* xi = x + (o * axis_len + a) * inner;
      TQ* yi = y + (o * axis_len + a) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        float v = std::nearbyint(xi[i] / s) + z;
        v = v < lo ? lo : (v > hi ? hi : v);
        yi[i] = (TQ)(int32_t)v;
      }
    }
}

template <typename TQ>
inline void dequantize_linear_ref(int64_t outer, int64_t axis_len, int64_t inner, const float* scale,
                                  const int32_t* zp, const TQ* x, float* y) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < axis_len; ++a) {
      const float s = scale[a];
      const int64_t z = zp[a];
      const TQ* xi = x + (o * axis_len + a) * inner;
      float* yi = y + (o * axis_len + a) * inner;
      for (int64_t i = 0; i < inner; ++i) yi[i] = (float)((int64_t)xi[i] - z) * s;
    }
}

// QAdd: y = clamp(round_half_even(fma(a, ra, fma(b, rb, k))), lo, hi) on the stored integers, with
// ra = a_scale / y_scale, rb = b_scale / y_scale and k = y_zp - (ra * a_zp + rb * b_zp) formed in
// float32 at compile time (lne/passes/quantize.py). The zero points fold into k: two fused
// multiply-adds per element. onnxruntime's x86 QLinearAdd evaluates the same expression, so the
// fused integer kernels of both agree bit for bit; against DequantizeLinear -> Add -> QuantizeLinear
// in float32 the result differs by one step at most, where the exact value is a rounding tie.
#if LNE_HAVE_AVX2_FMA
namespace detail {
// 8 consecutive 8- or 16-bit integers widened to int32 lanes.
template <typename T>
inline __m256i widen8(const T* p) {
  if (sizeof(T) == 1) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return std::is_signed<T>::value ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
  }
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return std::is_signed<T>::value ? _mm256_cvtepi16_epi32(v) : _mm256_cvtepu16_epi32(v);
}

// 8 int32 lanes, already within T's range, stored as 8 consecutive T.
template <typename T>
inline void narrow8(__m256i v, T* p) {
  const __m128i w = std::is_signed<T>::value || sizeof(T) == 1
                        ? _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1))
                        : _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  if (sizeof(T) == 2) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), w);
  } else {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), std::is_signed<T>::value ? _mm_packs_epi16(w, w)
                                                                             : _mm_packus_epi16(w, w));
  }
}
}  // namespace detail
#endif

template <typename TA, typename TB, typename TY>
inline void qadd(int64_t count, const TA* a, float ra, const TB* b, float rb, float k, int32_t lo, int32_t hi,
                 TY* y) {
  int64_t i = 0;
#if LNE_HAVE_AVX2_FMA
  if (sizeof(TA) <= 2 && sizeof(TB) <= 2 && sizeof(TY) <= 2) {
    const __m256 va = _mm256_set1_ps(ra), vb = _mm256_set1_ps(rb), vk = _mm256_set1_ps(k);
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    for (; i + 8 <= count; i += 8) {
      const __m256 fa = _mm256_cvtepi32_ps(detail::widen8(a + i)), fb = _mm256_cvtepi32_ps(detail::widen8(b + i));
      const __m256i q = _mm256_cvtps_epi32(_mm256_fmadd_ps(fa, va, _mm256_fmadd_ps(fb, vb, vk)));  // half to even
      detail::narrow8(_mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi), y + i);
    }
  }
#endif
  for (; i < count; ++i) {
    float r = std::nearbyint(std::fma((float)a[i], ra, std::fma((float)b[i], rb, k)));
    r = r < (float)lo ? (float)lo : (r > (float)hi ? (float)hi : r);
    y[i] = (TY)(int32_t)r;
  }
}

template <typename TX, typename TY>
inline void qglobal_avgpool_ref(int64_t planes, int64_t hw, const TX* x, int32_t x_zp, float mult, int32_t y_zp,
                                int32_t lo, int32_t hi, TY* y) {
  const bool narrow = sizeof(TX) == 1 && hw < (int64_t{1} << 23);  // |sum| < 2^23 * 256: int32 holds it
  for (int64_t pc = 0; pc < planes; ++pc) {
    int64_t acc = 0;
    const TX* xc = x + pc * hw;
    if (narrow) {
      int32_t s = 0;
      for (int64_t i = 0; i < hw; ++i) s += (int32_t)xc[i];
      acc = (int64_t)s - (int64_t)x_zp * hw;
    } else {
      for (int64_t i = 0; i < hw; ++i) acc += (int64_t)xc[i] - x_zp;
    }
    y[pc] = requantize<TY>(acc, mult, y_zp, lo, hi);
  }
}

// MaxPool on quantized values (one scale in and out: max commutes with the affine map).
template <typename T>
inline void maxpool2d_q_ref(const PoolParams& p, const T* x, T* y) {
  maxpool2d_ref(p, x, y);
}

// The same, row at a time: the columns whose window lies inside the image take the max of
// whole rows (loops the compiler vectorises); the border columns go through the generic path.
template <typename T>
inline void maxpool2d_q_rows(const PoolParams& p, const T* x, T* y) {
  constexpr int64_t kMaxRow = 2048;
  if (p.ow > kMaxRow) return maxpool2d_q_ref(p, x, y);
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  int64_t ox0, ox1;  // columns whose whole window is inside
  {
    int64_t a, b, c, d;
    detail::valid_range(p.ow, p.sw, -p.pl, p.w, &a, &b);
    detail::valid_range(p.ow, p.sw, -p.pl + (int64_t)(p.kw - 1) * p.dw, p.w, &c, &d);
    ox0 = std::max(a, c);
    ox1 = std::max(ox0, std::min(b, d));
  }
  T m[kMaxRow];
  for (int64_t pc = 0; pc < (int64_t)p.n * p.c; ++pc) {
    const T* xc = x + pc * hw;
    T* yc = y + pc * ohw;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      int64_t ky0, ky1;
      detail::valid_range(p.kh, p.dh, (int64_t)oy * p.sh - p.pt, p.h, &ky0, &ky1);
      for (int64_t ox = ox0; ox < ox1; ++ox) m[ox] = std::numeric_limits<T>::lowest();
      for (int64_t ky = ky0; ky < ky1; ++ky) {
        const T* row = xc + ((int64_t)oy * p.sh - p.pt + ky * p.dh) * p.w - p.pl;
        for (int32_t kx = 0; kx < p.kw; ++kx) {
          const T* r = row + (int64_t)kx * p.dw;
          for (int64_t ox = ox0; ox < ox1; ++ox) {
            const T v = r[ox * p.sw];
            m[ox] = v > m[ox] ? v : m[ox];
          }
        }
      }
      T* yr = yc + (int64_t)oy * p.ow;
      for (int64_t ox = ox0; ox < ox1; ++ox) yr[ox] = m[ox];
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        if (ox == ox0) ox = ox1;
        if (ox >= p.ow) break;
        int64_t kx0, kx1;
        detail::valid_range(p.kw, p.dw, ox * p.sw - p.pl, p.w, &kx0, &kx1);
        T v = std::numeric_limits<T>::lowest();
        for (int64_t ky = ky0; ky < ky1; ++ky) {
          const T* row = xc + ((int64_t)oy * p.sh - p.pt + ky * p.dh) * p.w + (ox * p.sw - p.pl);
          for (int64_t kx = kx0; kx < kx1; ++kx) v = row[kx * p.dw] > v ? row[kx * p.dw] : v;
        }
        yr[ox] = v;
      }
    }
  }
}

// Relu / Clip on quantized values: clamp to [lo, hi] (y may alias x).
template <typename T>
inline void qclamp_ref(int64_t count, const T* x, int32_t lo, int32_t hi, T* y) {
  for (int64_t i = 0; i < count; ++i) {
    const int32_t v = x[i];
    y[i] = (T)(v < lo ? lo : (v > hi ? hi : v));
  }
}

// Concat of same-typed blocks (bytes); see concat_f32_ref.
inline void concat_bytes_ref(int64_t outer, int32_t num_inputs, const void* const* xs, const int64_t* inner_bytes,
                             void* y) {
  unsigned char* out = static_cast<unsigned char*>(y);
  for (int64_t o = 0; o < outer; ++o)
    for (int32_t i = 0; i < num_inputs; ++i) {
      const int64_t sz = inner_bytes[i];
      if (sz > 0) std::memcpy(out, static_cast<const unsigned char*>(xs[i]) + o * sz, (size_t)sz);
      out += sz;
    }
}

}  // namespace lne
