// LNE runtime: plain tensor copy (Identity, Reshape/Flatten/Squeeze into a distinct buffer, ...).
#pragma once
#include <cstring>

#include "lne/common.h"

namespace lne {

// y[0:n] = x[0:n]; x == y is a no-op, overlapping ranges are handled (memmove).
inline void copy_f32_ref(int64_t n, const float* x, float* y) {
  if (n <= 0 || x == y) return;
  std::memmove(y, x, (size_t)n * sizeof(float));
}

}  // namespace lne
