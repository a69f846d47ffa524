// LNE runtime: global average pooling of a blocked NCHW8c tensor (x[n][c/8][hw][8]). The
// [n][c] result is the same bytes in NCHW and NCHW8c (1x1 pixels), so it is written as NCHW.
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

inline void global_avgpool_f32_nchw8c(int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  using detail::vf8;
  const vf8 inv = detail::vf8_set1(1.f / (float)hw);
  for (int64_t b = 0; b < n * (c / 8); ++b) {
    const float* xb = x + b * 8 * hw;
    vf8 a0 = detail::vf8_set1(0.f), a1 = a0;
    int64_t p = 0;
    for (; p + 2 <= hw; p += 2) {
      a0 += detail::vf8_load(xb + p * 8);
      a1 += detail::vf8_load(xb + p * 8 + 8);
    }
    if (p < hw) a0 += detail::vf8_load(xb + p * 8);
    detail::vf8_store(y + b * 8, (a0 + a1) * inv);
  }
}

}  // namespace lne
