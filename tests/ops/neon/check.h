// Shared by the NEON kernel test drivers (tests/ops/test_kernels_neon.py builds and runs them
// under qemu): a deterministic random fill and a tolerant comparison against the _ref kernel.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "lne/common.h"

namespace check {

struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  float uniform(float lo, float hi) {  // xorshift64*
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    const uint32_t r = (uint32_t)((s * 0x2545F4914F6CDD1Dull) >> 40);  // 24 bits
    return lo + (hi - lo) * (float)r / 16777216.f;
  }
  std::vector<float> vec(size_t n, float lo = -1.f, float hi = 1.f) {
    std::vector<float> v(n);
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }
};

// Every fused activation of lne::ActKind with parameters that make each branch matter.
inline std::vector<lne::Act> all_acts() {
  return {{lne::ACT_NONE, 0.f, 0.f},       {lne::ACT_RELU, 0.f, 0.f},         {lne::ACT_CLIP, -0.5f, 0.7f},
          {lne::ACT_LEAKY_RELU, 0.1f, 0.f}, {lne::ACT_SIGMOID, 0.f, 0.f},     {lne::ACT_TANH, 0.f, 0.f},
          {lne::ACT_HARD_SIGMOID, 0.2f, 0.5f}, {lne::ACT_HARD_SWISH, 0.f, 0.f}};
}

struct Report {
  int cases = 0, failures = 0;
  // got == want or |got - want| <= atol + rtol * |want| elementwise (NaN never passes); prints
  // the first miss.
  void compare(const char* what, const float* got, const float* want, size_t n, float rtol = 1e-5f,
               float atol = 1e-5f) {
    ++cases;
    for (size_t i = 0; i < n; ++i) {
      const float d = std::fabs(got[i] - want[i]);
      if (got[i] != want[i] && !(d <= atol + rtol * std::fabs(want[i]))) {  // == : equal infinities
        if (++failures <= 20) std::printf("MISMATCH %s at %zu: got %.9g want %.9g\n", what, i, got[i], want[i]);
        return;
      }
    }
  }
  int finish(const char* family) const {
    std::printf("%s cases=%d failures=%d\n", family, cases, failures);
    return failures ? 1 : 0;
  }
};

}  // namespace check
