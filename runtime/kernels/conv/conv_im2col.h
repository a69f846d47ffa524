// LNE runtime: 2-D convolution as im2col + blocked SGEMM (+ bias/activation epilogue).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_params.h"
#include "kernels/gemm/gemm_blocked.h"

namespace lne {

// True when the convolution is a plain 1x1 / stride 1 / unpadded one: the GEMM reads the input
// directly, no column buffer is needed.
inline bool conv2d_is_pointwise(const ConvParams& p) {
  return p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.oh == p.h && p.ow == p.w;
}

// Scratch size in floats (the Python compiler replicates this formula exactly).
inline size_t conv2d_f32_im2col_scratch(const ConvParams& p) {
  if (conv2d_is_pointwise(p)) return 0;
  return (size_t)(p.c / p.group) * p.kh * p.kw * p.oh * p.ow;
}

namespace detail {

// cols[(ci*kh + ky)*kw + kx, oy*ow + ox] = x[ci, iy, ix] (zero outside the image), for one group.
inline void conv_im2col(const ConvParams& p, int32_t cg, const float* x, float* LNE_RESTRICT cols) {
  const int64_t ohw = (int64_t)p.oh * p.ow, hw = (int64_t)p.h * p.w;
  float* dst = cols;
  for (int32_t ci = 0; ci < cg; ++ci) {
    const float* xc = x + ci * hw;
    for (int32_t ky = 0; ky < p.kh; ++ky) {
      for (int32_t kx = 0; kx < p.kw; ++kx, dst += ohw) {
        const int64_t xoff = (int64_t)kx * p.dw - p.pl;
        int64_t ox0, ox1;
        valid_range(p.ow, p.sw, xoff, p.w, &ox0, &ox1);
        for (int32_t oy = 0; oy < p.oh; ++oy) {
          float* d = dst + (int64_t)oy * p.ow;
          const int64_t iy = (int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh;
          if (iy < 0 || iy >= p.h) {
            for (int32_t ox = 0; ox < p.ow; ++ox) d[ox] = 0.f;
            continue;
          }
          for (int64_t ox = 0; ox < ox0; ++ox) d[ox] = 0.f;
          if (ox1 > ox0) {
            const float* src = xc + iy * p.w + (ox0 * p.sw + xoff);  // x[iy, ox0*sw + xoff]
            if (p.sw == 1) {
              std::memcpy(d + ox0, src, (size_t)(ox1 - ox0) * sizeof(float));
            } else {
              const int64_t sw = p.sw, cnt = ox1 - ox0;
              float* dd = d + ox0;
              for (int64_t i = 0; i < cnt; ++i) dd[i] = src[i * sw];
            }
          }
          for (int64_t ox = ox1; ox < p.ow; ++ox) d[ox] = 0.f;
        }
      }
    }
  }
}

}  // namespace detail

// Per image and group: im2col into scratch (skipped for pointwise convs), then
// sgemm_f32_blocked(W_g[m/g, K] x cols[K, oh*ow]) straight into y, then bias + act epilogue.
// scratch must hold conv2d_f32_im2col_scratch(p) floats (may be nullptr when that is 0).
inline void conv2d_f32_im2col(const ConvParams& p, const float* x, const float* w,
                              const float* bias, float* y, float* scratch) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  const int32_t K = cg * p.kh * p.kw;
  const int32_t ohw = p.oh * p.ow;
  const int64_t hw = (int64_t)p.h * p.w;
  const bool pointwise = conv2d_is_pointwise(p);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t g = 0; g < p.group; ++g) {
      const float* xg = x + ((int64_t)nn * p.c + (int64_t)g * cg) * hw;
      const float* wg = w + (int64_t)g * mg * K;
      float* yg = y + ((int64_t)nn * p.m + (int64_t)g * mg) * ohw;
      const float* cols = xg;
      if (!pointwise) {
        detail::conv_im2col(p, cg, xg, scratch);
        cols = scratch;
      }
      sgemm_f32_blocked(mg, ohw, K, wg, K, cols, ohw, yg, ohw, false);
    }
    float* yn = y + (int64_t)nn * p.m * ohw;
    for (int32_t co = 0; co < p.m; ++co) {
      float* yc = yn + (int64_t)co * ohw;
      if (bias) {
        const float b = bias[co];
        for (int32_t i = 0; i < ohw; ++i) yc[i] += b;
      }
      detail::act_inplace(p.act, ohw, yc);
    }
  }
}

}  // namespace lne
