// LNE plugin: convolution and fully connected layers on OpenBLAS's cblas_sgemm.
// Used only when a bundle is compiled with `--plugin openblas`; the bundle then links OpenBLAS.
// Threads: OpenBLAS follows OPENBLAS_NUM_THREADS of the application (LNE sets nothing global).
#pragma once
#include <cblas.h>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/gemm/gemm_ref.h"

namespace lne {

// Same contract as conv2d_f32_im2col, with the GEMM done by OpenBLAS over the whole column matrix:
// scratch holds (c/group)*kh*kw*oh*ow floats (0 for pointwise convs).
inline void conv2d_f32_openblas(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                                float* scratch) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  const int32_t K = cg * p.kh * p.kw, ohw = p.oh * p.ow;
  const int64_t hw = (int64_t)p.h * p.w;
  const bool pointwise = conv2d_is_pointwise(p);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t g = 0; g < p.group; ++g) {
      const float* xg = x + ((int64_t)nn * p.c + (int64_t)g * cg) * hw;
      const float* cols = xg;
      if (!pointwise) {
        detail::conv_im2col(p, cg, xg, scratch, 0, p.oh);
        cols = scratch;
      }
      float* yg = y + ((int64_t)nn * p.m + (int64_t)g * mg) * ohw;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mg, ohw, K, 1.0f, w + (int64_t)g * mg * K, K, cols,
                  ohw, 0.0f, yg, ohw);
    }
    float* yn = y + (int64_t)nn * p.m * ohw;
    for (int32_t co = 0; co < p.m; ++co)
      detail::affine_act(p.act, ohw, yn + (int64_t)co * ohw, 1.0f, bias ? bias[co] : 0.0f, yn + (int64_t)co * ohw);
  }
}

// Gemm with trans_a == 0: y = act(alpha * A op(B) + beta * C).
inline void gemm_f32_openblas(const GemmParams& p, const float* a, const float* b, const float* c, float* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans, p.m, p.n, p.k, p.alpha, a, p.k,
              b, p.trans_b ? p.k : p.n, 0.0f, y, p.n);
  for (int32_t i = 0; i < p.m; ++i) {
    float* row = y + (int64_t)i * p.n;
    if (c != nullptr)
      for (int32_t j = 0; j < p.n; ++j) row[j] += p.beta * c[(i % p.c_rows) * p.c_cols + (j % p.c_cols)];
    detail::act_inplace(p.act, p.n, row);
  }
}

}  // namespace lne
