// LNE runtime: ONNX LRN (local response normalisation across channels).
#pragma once
#include <cmath>

#include "lne/common.h"

namespace lne {

// x, y: [n, c, inner]. For channel ci the window is [ci - floor((size-1)/2), ci + ceil((size-1)/2)]
// clipped to [0, c); y = x / (bias + alpha / size * sum_window(x^2))^beta. y must not alias x.
inline void lrn_f32_ref(int32_t n, int32_t c, int64_t inner, int32_t size, float alpha, float beta,
                        float bias, const float* x, float* y) {
  const int32_t before = (size - 1) / 2;
  const int32_t after = (size - 1) - before;  // ceil((size-1)/2)
  const float scale = alpha / (float)size;
  for (int32_t nn = 0; nn < n; ++nn) {
    const float* xn = x + (int64_t)nn * c * inner;
    float* yn = y + (int64_t)nn * c * inner;
    for (int32_t ci = 0; ci < c; ++ci) {
      const int32_t c0 = std::max(0, ci - before), c1 = std::min(c - 1, ci + after);
      float* yr = yn + (int64_t)ci * inner;
      // accumulate the window's sum of squares into y, then normalise in place
      for (int64_t i = 0; i < inner; ++i) yr[i] = 0.f;
      for (int32_t cc = c0; cc <= c1; ++cc) {
        const float* xr = xn + (int64_t)cc * inner;
        for (int64_t i = 0; i < inner; ++i) yr[i] += xr[i] * xr[i];
      }
      const float* xr = xn + (int64_t)ci * inner;
      if (beta == 0.75f) {  // AlexNet / GoogLeNet value: t^-0.75 = 1 / (sqrt(t) * sqrt(sqrt(t)))
        for (int64_t i = 0; i < inner; ++i) {
          const float t = bias + scale * yr[i];
          const float s = std::sqrt(t);
          yr[i] = xr[i] / (s * std::sqrt(s));
        }
      } else {
        for (int64_t i = 0; i < inner; ++i) yr[i] = xr[i] / std::pow(bias + scale * yr[i], beta);
      }
    }
  }
}

}  // namespace lne
