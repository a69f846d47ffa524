// LNE runtime: layout conversions between NCHW and the blocked NCHW8c (x[n][c/8][h][w][8]),
// for channel counts that are multiples of 8. The layout pass inserts them as Reorder nodes
// where a blocked region meets NCHW tensors. Eight channel rows are read 8 pixels at a time and
// written as 8 pixel vectors (an 8x8 transpose the compiler keeps in registers).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

// nchw: [n][c][hw] <-> blocked: [n][c/8][hw][8]; to_blocked chooses the direction.
template <bool kToBlocked>
inline void reorder_f32_nchw8c(int64_t n, int64_t c, int64_t hw, const float* LNE_RESTRICT x,
                               float* LNE_RESTRICT y) {
  for (int64_t b = 0; b < n * (c / 8); ++b) {
    const float* xs = x + b * 8 * hw;
    float* ys = y + b * 8 * hw;
    int64_t p = 0;
    for (; p + 8 <= hw; p += 8) {
      float t[8][8];  // t[pixel][channel]
      for (int j = 0; j < 8; ++j)
        for (int i = 0; i < 8; ++i) t[i][j] = kToBlocked ? xs[j * hw + p + i] : xs[(p + i) * 8 + j];
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) {
          if (kToBlocked) ys[(p + i) * 8 + j] = t[i][j];
          else ys[j * hw + p + i] = t[i][j];
        }
    }
    for (; p < hw; ++p)
      for (int j = 0; j < 8; ++j) {
        if (kToBlocked) ys[p * 8 + j] = xs[j * hw + p];
        else ys[j * hw + p] = xs[p * 8 + j];
      }
  }
}

inline void reorder_f32_to_nchw8c(int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  reorder_f32_nchw8c<true>(n, c, hw, x, y);
}
inline void reorder_f32_from_nchw8c(int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  reorder_f32_nchw8c<false>(n, c, hw, x, y);
}

}  // namespace lne
