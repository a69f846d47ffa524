// LNE runtime: broadcasting element-wise power y = a ** b (ONNX Pow), on the strided
// broadcast loop of binary_ref.h (same BinaryParams; `kind` is ignored).
#pragma once
#include <cmath>

#include "kernels/eltwise/binary_ref.h"

namespace lne {

namespace detail {
struct BinPow { static float f(float a, float b) { return std::pow(a, b); } };
}  // namespace detail

inline void pow_f32_ref(const BinaryParams& p, const float* a, const float* b, float* y) {
  detail::binary_run<detail::BinPow>(p, a, b, y);
}

}  // namespace lne
