// LNE runtime: per-channel affine transform (folded BatchNormalization, Mul+Add by [C,1,1]).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

// y[n,c,i] = act(x[n,c,i] * scale[c] + bias[c]); y may equal x.
inline void channel_affine_f32_ref(int32_t n, int32_t c, int64_t inner, const float* x,
                                   const float* scale, const float* bias, const Act& act,
                                   float* y) {
  for (int32_t nn = 0; nn < n; ++nn) {
    for (int32_t cc = 0; cc < c; ++cc) {
      const int64_t off = ((int64_t)nn * c + cc) * inner;
      detail::affine_act(act, inner, x + off, scale[cc], bias[cc], y + off);
    }
  }
}

}  // namespace lne
