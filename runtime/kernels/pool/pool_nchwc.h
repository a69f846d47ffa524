// LNE runtime: global average pooling of a blocked NCHW8c tensor (x[n][ceil(c/8)][hw][8]) into
// an NCHW [n][c] result (for 1x1 pixels the two layouts differ only by channel padding).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

inline void global_avgpool_f32_nchw8c(int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  using detail::vf8;
  const int64_t blocks = (c + 7) / 8;
  const vf8 inv = detail::vf8_set1(1.f / (float)hw);
  for (int64_t nn = 0; nn < n; ++nn) {
    for (int64_t b = 0; b < blocks; ++b) {
      const float* xb = x + (nn * blocks + b) * 8 * hw;
      vf8 a0 = detail::vf8_set1(0.f), a1 = a0;
      int64_t p = 0;
      for (; p + 2 <= hw; p += 2) {
        a0 += detail::vf8_load(xb + p * 8);
        a1 += detail::vf8_load(xb + p * 8 + 8);
      }
      if (p < hw) a0 += detail::vf8_load(xb + p * 8);
      float t[8];
      detail::vf8_store(t, (a0 + a1) * inv);
      const int64_t nc = std::min<int64_t>(8, c - 8 * b);
      for (int64_t j = 0; j < nc; ++j) y[nn * c + 8 * b + j] = t[j];
    }
  }
}

}  // namespace lne
