// LNE runtime: broadcasting element-wise binary ops (Add, Sub, Mul, Div, PRelu, Max, Min).
//
// The caller gives the output shape and per-operand strides (0 on broadcast dims). The kernel
// first drops size-1 dims and merges adjacent dims that are contiguous for both operands, so the
// common cases collapse to a few long inner rows: both operands full (one row), b a scalar, b
// per-channel ([N, C, HW] with b strides [0, 1, 0]: an inner row against one b value), ...
// Each inner row runs a loop specialised for unit / zero strides, then the activation.
#pragma once
#include <utility>

#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

enum BinaryKind : int32_t {
  BIN_ADD = 0,
  BIN_SUB = 1,
  BIN_MUL = 2,
  BIN_DIV = 3,
  BIN_PRELU = 4,  // a >= 0 ? a : a * b
  BIN_MAX = 5,
  BIN_MIN = 6,
};

// Strides in elements (0 on broadcast dims); only the first `rank` entries are used (rank >= 1).
// y is contiguous with shape out_shape. y may alias a or b when that operand is not broadcast.
struct BinaryParams {
  int32_t kind;
  int32_t rank;
  int64_t out_shape[kMaxRank];
  int64_t a_strides[kMaxRank];
  int64_t b_strides[kMaxRank];
  Act act;
};

namespace detail {

struct BinAdd { static float f(float a, float b) { return a + b; } };
struct BinSub { static float f(float a, float b) { return a - b; } };
struct BinMul { static float f(float a, float b) { return a * b; } };
struct BinDiv { static float f(float a, float b) { return a / b; } };
struct BinPrelu { static float f(float a, float b) { return a >= 0.f ? a : a * b; } };
// A NaN in either operand gives NaN (onnxruntime's Max / Min, numpy's maximum / minimum).
struct BinMax { static float f(float a, float b) { return a > b || a != a ? a : b; } };
struct BinMin { static float f(float a, float b) { return a < b || a != a ? a : b; } };

template <class Op>
inline void binary_row(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                       float* y) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = Op::f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = Op::f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = Op::f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = Op::f(a[i * sa], b[i * sb]);
  }
}

// Walk a broadcast binary op row by row: drop size-1 dims, merge dims contiguous for both
// operands, then call row(a_off, a_stride, b_off, b_stride, n, y_off) for every contiguous output
// row of n elements (the innermost merged dim; a single element is one row of 1).
template <class Row>
inline void binary_rows(const BinaryParams& p, Row&& row) {
  // Coalesce, outermost first. shape[r-1] is the inner row.
  int64_t shape[kMaxRank], sa[kMaxRank], sb[kMaxRank];
  int r = 0;
  for (int d = p.rank - 1; d >= 0; --d) {  // walk from the innermost dim outwards
    const int64_t s = p.out_shape[d];
    if (s == 0) return;  // empty output
    if (s == 1) continue;
    if (r > 0 && p.a_strides[d] == sa[r - 1] * shape[r - 1] &&
        p.b_strides[d] == sb[r - 1] * shape[r - 1]) {
      shape[r - 1] *= s;  // strides of the merged dim stay those of its inner part
      continue;
    }
    shape[r] = s;
    sa[r] = p.a_strides[d];
    sb[r] = p.b_strides[d];
    ++r;
  }
  if (r == 0) {  // single element
    row((int64_t)0, (int64_t)0, (int64_t)0, (int64_t)0, (int64_t)1, (int64_t)0);
    return;
  }
  // reverse into outer -> inner order
  for (int i = 0, j = r - 1; i < j; ++i, --j) {
    std::swap(shape[i], shape[j]);
    std::swap(sa[i], sa[j]);
    std::swap(sb[i], sb[j]);
  }
  const int64_t n0 = shape[r - 1];
  int64_t rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= shape[d];
  int64_t idx[kMaxRank] = {};
  int64_t ao = 0, bo = 0;
  for (int64_t i = 0; i < rows; ++i) {
    row(ao, sa[r - 1], bo, sb[r - 1], n0, i * n0);
    for (int d = r - 2; d >= 0; --d) {
      ao += sa[d];
      bo += sb[d];
      if (++idx[d] < shape[d]) break;
      ao -= sa[d] * shape[d];
      bo -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

template <class Op>
inline void binary_run(const BinaryParams& p, const float* a, const float* b, float* y) {
  binary_rows(p, [&](int64_t ao, int64_t as, int64_t bo, int64_t bs, int64_t n, int64_t yo) {
    binary_row<Op>(n, a + ao, as, b + bo, bs, y + yo);
    act_inplace(p.act, n, y + yo);
  });
}

}  // namespace detail

// y = act(a op b) with broadcasting given by the strides.
inline void binary_f32_ref(const BinaryParams& p, const float* a, const float* b, float* y) {
  switch (p.kind) {
    case BIN_ADD: detail::binary_run<detail::BinAdd>(p, a, b, y); break;
    case BIN_SUB: detail::binary_run<detail::BinSub>(p, a, b, y); break;
    case BIN_MUL: detail::binary_run<detail::BinMul>(p, a, b, y); break;
    case BIN_DIV: detail::binary_run<detail::BinDiv>(p, a, b, y); break;
    case BIN_PRELU: detail::binary_run<detail::BinPrelu>(p, a, b, y); break;
    case BIN_MAX: detail::binary_run<detail::BinMax>(p, a, b, y); break;
    case BIN_MIN: detail::binary_run<detail::BinMin>(p, a, b, y); break;
    default: break;
  }
}

}  // namespace lne
