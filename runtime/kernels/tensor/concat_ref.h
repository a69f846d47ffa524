// LNE runtime: Concat along one axis.
#pragma once
#include <cstring>

#include "lne/common.h"

namespace lne {

// inner_sizes[i] = shape_i[axis] * prod(shape[axis+1:]); outer = prod(shape[:axis]).
// For each outer index o, y receives x0's block o, then x1's block o, ... (y must not alias xs).
inline void concat_f32_ref(int64_t outer, int32_t num_inputs, const float* const* xs,
                           const int64_t* inner_sizes, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int32_t i = 0; i < num_inputs; ++i) {
      const int64_t sz = inner_sizes[i];
      if (sz > 0) std::memcpy(y, xs[i] + o * sz, (size_t)sz * sizeof(float));
      y += sz;
    }
  }
}

}  // namespace lne
