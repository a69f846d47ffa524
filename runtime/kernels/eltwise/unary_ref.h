// LNE runtime: element-wise activation (Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid,
// HardSwish) as a standalone kernel.
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

// y[i] = act(x[i]) for i < n; y may equal x.
inline void unary_f32_ref(const Act& a, int64_t n, const float* x, float* y) {
  detail::act_map(a, n, x, y);
}

}  // namespace lne
