// LNE runtime: layout conversions between NCHW and the blocked NCHW8c (x[n][ceil(c/8)][h][w][8],
// padding channels zero). The layout pass inserts them as Reorder nodes where a blocked region
// meets NCHW tensors. Eight channel rows are read 8 pixels at a time and written as 8 pixel
// vectors (an 8x8 transpose the compiler keeps in registers).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

// nchw [n][c][hw] <-> blocked [n][ceil(c/8)][hw][8]; kToBlocked chooses the direction.
template <bool kToBlocked>
inline void reorder_f32_nchw8c(int64_t n, int64_t c, int64_t hw, const float* LNE_RESTRICT x,
                               float* LNE_RESTRICT y) {
  const int64_t blocks = (c + 7) / 8;
  for (int64_t nn = 0; nn < n; ++nn) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t nc = std::min<int64_t>(8, c - 8 * b);  // real channels in this block
      const float* plain = kToBlocked ? x + (nn * c + 8 * b) * hw : nullptr;
      float* plain_out = kToBlocked ? nullptr : y + (nn * c + 8 * b) * hw;
      const float* blk = kToBlocked ? nullptr : x + (nn * blocks + b) * 8 * hw;
      float* blk_out = kToBlocked ? y + (nn * blocks + b) * 8 * hw : nullptr;
      int64_t p = 0;
      if (nc == 8) {
        for (; p + 8 <= hw; p += 8) {
          float t[8][8];  // t[pixel][channel]
          for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 8; ++i) t[i][j] = kToBlocked ? plain[j * hw + p + i] : blk[(p + i) * 8 + j];
          for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j) {
              if (kToBlocked) blk_out[(p + i) * 8 + j] = t[i][j];
              else plain_out[j * hw + p + i] = t[i][j];
            }
        }
      }
      for (; p < hw; ++p)
        for (int64_t j = 0; j < 8; ++j) {
          if (kToBlocked) blk_out[p * 8 + j] = j < nc ? plain[j * hw + p] : 0.f;
          else if (j < nc) plain_out[j * hw + p] = blk[p * 8 + j];
        }
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
