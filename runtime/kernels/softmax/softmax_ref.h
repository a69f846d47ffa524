// LNE runtime: Softmax / LogSoftmax over one axis of a tensor viewed as [outer, axis_len, inner].
#pragma once
#include <cmath>
#include <limits>

#include "lne/common.h"

namespace lne {

// Numerically stable (the max along the axis is subtracted first). log_softmax != 0 gives
// y = (x - max) - log(sum(exp(x - max))). y may equal x. No scratch: inner positions are processed
// in chunks of 64 with their running max / sum on the stack.
inline void softmax_f32_ref(int64_t outer, int64_t axis_len, int64_t inner, const float* x,
                            float* y, int32_t log_softmax) {
  if (axis_len <= 0 || inner <= 0) return;
  constexpr int64_t kChunk = 64;
  float mx[kChunk], sum[kChunk];
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis_len * inner;
    float* yo = y + o * axis_len * inner;
    for (int64_t j0 = 0; j0 < inner; j0 += kChunk) {
      const int64_t cn = std::min(kChunk, inner - j0);
      for (int64_t j = 0; j < cn; ++j) {
        mx[j] = -std::numeric_limits<float>::infinity();
        sum[j] = 0.f;
      }
      for (int64_t a = 0; a < axis_len; ++a) {
        const float* xr = xo + a * inner + j0;
        for (int64_t j = 0; j < cn; ++j) mx[j] = xr[j] > mx[j] ? xr[j] : mx[j];
      }
      if (log_softmax) {
        for (int64_t a = 0; a < axis_len; ++a) {
          const float* xr = xo + a * inner + j0;
          for (int64_t j = 0; j < cn; ++j) sum[j] += std::exp(xr[j] - mx[j]);
        }
        for (int64_t j = 0; j < cn; ++j) sum[j] = std::log(sum[j]);
        // (x - max) - log(sum): keeps full precision when |max| is large
        for (int64_t a = 0; a < axis_len; ++a) {
          const float* xr = xo + a * inner + j0;
          float* yr = yo + a * inner + j0;
          for (int64_t j = 0; j < cn; ++j) yr[j] = (xr[j] - mx[j]) - sum[j];
        }
      } else {
        for (int64_t a = 0; a < axis_len; ++a) {
          const float* xr = xo + a * inner + j0;
          float* yr = yo + a * inner + j0;
          for (int64_t j = 0; j < cn; ++j) {
            const float e = std::exp(xr[j] - mx[j]);
            yr[j] = e;
            sum[j] += e;
          }
        }
        for (int64_t j = 0; j < cn; ++j) sum[j] = 1.f / sum[j];
        for (int64_t a = 0; a < axis_len; ++a) {
          float* yr = yo + a * inner + j0;
          for (int64_t j = 0; j < cn; ++j) yr[j] *= sum[j];
        }
      }
    }
  }
}

}  // namespace lne
