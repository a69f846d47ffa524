// LNE runtime: Split along one axis (the inverse of concat_ref.h).
#pragma once
#include <cstring>

#include "lne/common.h"

namespace lne {

// inner_sizes[i] = part_i[axis] * prod(shape[axis+1:]); outer = prod(shape[:axis]).
// For each outer index o, part i receives the i-th block of x's row o. No y may alias x.
inline void split_f32_ref(int64_t outer, int32_t num_outputs, const float* x, const int64_t* inner_sizes,
                          float* const* ys) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int32_t i = 0; i < num_outputs; ++i) {
      const int64_t sz = inner_sizes[i];
      if (sz > 0) std::memcpy(ys[i] + o * sz, x, (size_t)sz * sizeof(float));
      x += sz;
    }
  }
}

}  // namespace lne
