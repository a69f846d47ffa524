// LNE runtime: ONNX Pad (constant / reflect / edge), any rank <= kMaxRank, negative pads crop.
#pragma once
#include <cstring>

#include "lne/common.h"

namespace lne {

enum PadMode : int32_t { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2 };

// out[o] = in[o - begin] inside the input; outside: constant -> value, edge -> nearest input
// element, reflect -> mirrored without repeating the edge (numpy 'reflect'; pads longer than the
// input keep reflecting back and forth). begin may be negative (crop). y must not alias x.
struct PadParams {
  int32_t rank;
  int64_t in_shape[kMaxRank];
  int64_t out_shape[kMaxRank];
  int64_t begin[kMaxRank];
  int32_t mode;
  float value;
};

namespace detail {

// Input index for (output index - begin) = i on a dim of size n, or -1 for the constant value.
inline int64_t pad_map_index(int64_t i, int64_t n, int32_t mode) {
  if (i >= 0 && i < n) return i;
  if (mode == PAD_EDGE) return i < 0 ? 0 : n - 1;
  if (mode == PAD_REFLECT) {
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    int64_t k = i % period;
    if (k < 0) k += period;
    return k < n ? k : period - k;
  }
  return -1;
}

}  // namespace detail

inline void pad_f32_ref(const PadParams& p, const float* x, float* y) {
  const int r = p.rank;
  if (r <= 0) {
    y[0] = x[0];
    return;
  }
  int64_t total = 1, in_total = 1;
  for (int d = 0; d < r; ++d) {
    total *= p.out_shape[d];
    in_total *= p.in_shape[d];
  }
  if (total == 0) return;
  if (in_total == 0) {  // nothing to copy or mirror: every element is the pad value
    for (int64_t i = 0; i < total; ++i) y[i] = p.value;
    return;
  }
  int64_t in_str[kMaxRank];
  {
    int64_t t = 1;
    for (int d = r - 1; d >= 0; --d) {
      in_str[d] = t;
      t *= p.in_shape[d];
    }
  }
  const int64_t L = p.out_shape[r - 1], N = p.in_shape[r - 1], B = p.begin[r - 1];
  // Columns o in [c0, c1) copy straight from the input row.
  const int64_t c0 = std::max<int64_t>(0, B), c1 = std::min<int64_t>(L, B + N);
  const int64_t rows = total / L;
  int64_t idx[kMaxRank] = {};
  for (int64_t row = 0; row < rows; ++row, y += L) {
    int64_t base = 0;
    bool fill = false;
    for (int d = 0; d < r - 1; ++d) {
      const int64_t i = detail::pad_map_index(idx[d] - p.begin[d], p.in_shape[d], p.mode);
      if (i < 0) {
        fill = true;
        break;
      }
      base += i * in_str[d];
    }
    if (fill) {
      for (int64_t o = 0; o < L; ++o) y[o] = p.value;
    } else {
      const float* xr = x + base;
      for (int64_t o = 0; o < c0 && o < L; ++o) {
        const int64_t i = detail::pad_map_index(o - B, N, p.mode);
        y[o] = i < 0 ? p.value : xr[i];
      }
      if (c1 > c0) std::memcpy(y + c0, xr + (c0 - B), (size_t)(c1 - c0) * sizeof(float));
      for (int64_t o = std::max(c0, c1); o < L; ++o) {
        const int64_t i = detail::pad_map_index(o - B, N, p.mode);
        y[o] = i < 0 ? p.value : xr[i];
      }
    }
    for (int d = r - 2; d >= 0; --d) {
      if (++idx[d] < p.out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace lne
