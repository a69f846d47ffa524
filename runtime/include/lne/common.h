// LNE runtime: shared definitions for every kernel. Dependency-free C++17.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <algorithm>

namespace lne {

// Fused activation epilogue, applied by kernels to each output value.
enum ActKind : int32_t {
  ACT_NONE = 0,
  ACT_RELU = 1,
  ACT_CLIP = 2,          // min(max(v, alpha), beta)
  ACT_LEAKY_RELU = 3,    // v >= 0 ? v : alpha * v
  ACT_SIGMOID = 4,
  ACT_TANH = 5,
  ACT_HARD_SIGMOID = 6,  // max(0, min(1, alpha * v + beta))
  ACT_HARD_SWISH = 7,    // v * max(0, min(1, v / 6 + 0.5))
};

struct Act {
  int32_t kind;
  float alpha;
  float beta;
};

// NaN in, NaN out, as onnxruntime (and numpy's maximum / minimum): every clamp keeps the value
// when a comparison with it is false. max_keep_nan(lo, v) = lo > v ? lo : v is also exactly what
// _mm256_max_ps(lo, v) computes (it returns its second operand when either is NaN), so the
// scalar, AVX2 and NEON forms agree bit for bit (the sign of a zero included).
inline float max_keep_nan(float lo, float v) { return lo > v ? lo : v; }
inline float min_keep_nan(float hi, float v) { return hi < v ? hi : v; }

inline float apply_act(const Act& a, float v) {
  switch (a.kind) {
    case ACT_NONE: return v;
    case ACT_RELU: return max_keep_nan(0.f, v);
    case ACT_CLIP: return min_keep_nan(a.beta, max_keep_nan(a.alpha, v));
    case ACT_LEAKY_RELU: return v >= 0.f ? v : a.alpha * v;
    case ACT_SIGMOID: return 1.f / (1.f + std::exp(-v));
    case ACT_TANH: return std::tanh(v);
    case ACT_HARD_SIGMOID: return max_keep_nan(0.f, min_keep_nan(1.f, a.alpha * v + a.beta));
    case ACT_HARD_SWISH: return v * max_keep_nan(0.f, min_keep_nan(1.f, v / 6.f + 0.5f));
    default: return v;
  }
}

// Largest tensor rank the generic (broadcast, transpose, pad) kernels handle.
constexpr int kMaxRank = 6;

}  // namespace lne
