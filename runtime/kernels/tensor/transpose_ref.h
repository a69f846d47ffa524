// LNE runtime: Transpose with an ONNX permutation (out dim i = in dim perm[i]).
//
// Size-1 dims are dropped and output dims that stay adjacent in the input are merged. Then:
// innermost output dim contiguous in the input -> row copies; otherwise the two dims that are
// innermost in the output and in the input are transposed in cache-friendly 16x16 tiles for each
// index of the remaining dims.
#pragma once
#include <cstring>
#include <utility>

#include "lne/common.h"

namespace lne {

struct TransposeParams {
  int32_t rank;
  int64_t in_shape[kMaxRank];
  int32_t perm[kMaxRank];
};

inline void transpose_f32_ref(const TransposeParams& p, const float* x, float* y) {
  int64_t in_str[kMaxRank];
  int64_t total = 1;
  for (int d = p.rank - 1; d >= 0; --d) {
    in_str[d] = total;
    total *= p.in_shape[d];
  }
  if (total == 0) return;
  // Coalesced output dims (outer -> inner): shape and stride in the input.
  int64_t shp[kMaxRank], ist[kMaxRank];
  int r = 0;
  for (int i = 0; i < p.rank; ++i) {
    const int64_t s = p.in_shape[p.perm[i]];
    if (s == 1) continue;
    const int64_t st = in_str[p.perm[i]];
    if (r > 0 && ist[r - 1] == st * s) {  // previous output dim is the next-outer input dim
      shp[r - 1] *= s;
      ist[r - 1] = st;
      continue;
    }
    shp[r] = s;
    ist[r] = st;
    ++r;
  }
  if (r == 0) {
    y[0] = x[0];
    return;
  }
  int64_t ost[kMaxRank];  // output strides (contiguous)
  {
    int64_t t = 1;
    for (int d = r - 1; d >= 0; --d) {
      ost[d] = t;
      t *= shp[d];
    }
  }
  const int L = r - 1;
  if (ist[L] == 1) {  // inner rows are contiguous in both
    const int64_t n0 = shp[L];
    int64_t rows = total / n0;
    int64_t idx[kMaxRank] = {};
    int64_t io = 0;
    for (int64_t row = 0; row < rows; ++row) {
      std::memcpy(y + row * n0, x + io, (size_t)n0 * sizeof(float));
      for (int d = L - 1; d >= 0; --d) {
        io += ist[d];
        if (++idx[d] < shp[d]) break;
        io -= ist[d] * shp[d];
        idx[d] = 0;
      }
    }
    return;
  }
  // J: the output dim that is innermost (stride 1) in the input.
  int J = 0;
  for (int d = 0; d < r; ++d)
    if (ist[d] == 1) J = d;
  // Remaining dims, iterated with a counter.
  int od[kMaxRank];
  int no = 0;
  for (int d = 0; d < r; ++d)
    if (d != J && d != L) od[no++] = d;
  int64_t rest = 1;
  for (int k = 0; k < no; ++k) rest *= shp[od[k]];
  const int64_t nJ = shp[J], nL = shp[L], sL = ist[L], oJ = ost[J];
  constexpr int64_t T = 16;
  int64_t idx[kMaxRank] = {};
  int64_t io = 0, oo = 0;
  for (int64_t it = 0; it < rest; ++it) {
    const float* xb = x + io;
    float* yb = y + oo;
    for (int64_t j0 = 0; j0 < nJ; j0 += T) {
      const int64_t j1 = std::min(nJ, j0 + T);
      for (int64_t l0 = 0; l0 < nL; l0 += T) {
        const int64_t l1 = std::min(nL, l0 + T);
        for (int64_t j = j0; j < j1; ++j) {
          float* yr = yb + j * oJ;
          const float* xr = xb + j;
          for (int64_t l = l0; l < l1; ++l) yr[l] = xr[l * sL];
        }
      }
    }
    for (int k = no - 1; k >= 0; --k) {
      const int d = od[k];
      io += ist[d];
      oo += ost[d];
      if (++idx[k] < shp[d]) break;
      io -= ist[d] * shp[d];
      oo -= ost[d] * shp[d];
      idx[k] = 0;
    }
  }
}

}  // namespace lne
