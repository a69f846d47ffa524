// LNE runtime: 2-D convolution as im2col + NEON SGEMM (gemm/gemm_neon.h), then a NEON bias +
// activation epilogue. Same contract and scratch size as conv2d_f32_im2col (conv_im2col.h).
// Without NEON (x86 builds) this header declares nothing.
#pragma once
#if defined(__ARM_NEON)
#include <cstring>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "lne/neon_util.h"
#include "kernels/conv/conv_params.h"
#include "kernels/gemm/gemm_neon.h"

namespace lne {

// Plain 1x1 / stride 1 / unpadded: the GEMM reads the input directly, no column buffer.
inline bool conv2d_neon_is_pointwise(const ConvParams& p) {
  return p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.oh == p.h &&
         p.ow == p.w;
}

// Scratch size in floats (lne/kernels/neon.py replicates this formula).
inline size_t conv2d_f32_im2col_neon_scratch(const ConvParams& p) {
  if (conv2d_neon_is_pointwise(p)) return 0;
  return (size_t)(p.c / p.group) * p.kh * p.kw * p.oh * p.ow;
}

namespace detail {

// cols[(ci*kh + ky)*kw + kx, oy*ow + ox] = x[ci, iy, ix] (zero outside the image), one group.
inline void neon_im2col(const ConvParams& p, int32_t cg, const float* x, float* LNE_RESTRICT cols) {
  const int64_t ohw = (int64_t)p.oh * p.ow, hw = (int64_t)p.h * p.w;
  float* dst = cols;
  for (int32_t ci = 0; ci < cg; ++ci) {
    const float* xc = x + ci * hw;
    for (int32_t ky = 0; ky < p.kh; ++ky) {
      for (int32_t kx = 0; kx < p.kw; ++kx, dst += ohw) {
        const int64_t xoff = (int64_t)kx * p.dw - p.pl;
        int64_t ox0, ox1;  // output columns whose input column is inside the image
        valid_range(p.ow, p.sw, xoff, p.w, &ox0, &ox1);
        for (int32_t oy = 0; oy < p.oh; ++oy) {
          float* d = dst + (int64_t)oy * p.ow;
          const int64_t iy = (int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh;
          if (iy < 0 || iy >= p.h || ox1 <= ox0) {
            std::memset(d, 0, (size_t)p.ow * sizeof(float));
            continue;
          }
          std::memset(d, 0, (size_t)ox0 * sizeof(float));
          const float* src = xc + iy * p.w + (ox0 * p.sw + xoff);
          const int64_t cnt = ox1 - ox0;
          float* dd = d + ox0;
          if (p.sw == 1) {
            std::memcpy(dd, src, (size_t)cnt * sizeof(float));
          } else if (p.sw == 2) {
            int64_t i = 0;
            // vld2q reads src[2i .. 2i+7]; 2i+7 < 2(cnt-1) keeps it inside the row
            for (; i + 5 <= cnt; i += 4) vst1q_f32(dd + i, vld2q_f32(src + 2 * i).val[0]);
            for (; i < cnt; ++i) dd[i] = src[2 * i];
          } else {
            const int64_t sw = p.sw;
            for (int64_t i = 0; i < cnt; ++i) dd[i] = src[i * sw];
          }
          std::memset(d + ox1, 0, (size_t)(p.ow - ox1) * sizeof(float));
        }
      }
    }
  }
}

}  // namespace detail

// Per image and group: im2col into scratch (skipped for pointwise convs), sgemm_f32_neon
// (W_g[m/g, K] x cols[K, oh*ow]) straight into y, then y = act(y + bias) per output channel.
// scratch holds conv2d_f32_im2col_neon_scratch(p) floats (may be nullptr when that is 0).
inline void conv2d_f32_im2col_neon(const ConvParams& p, const float* x, const float* w, const float* bias,
                                   float* y, float* scratch) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  const int32_t K = cg * p.kh * p.kw;
  const int32_t ohw = p.oh * p.ow;
  const int64_t hw = (int64_t)p.h * p.w;
  const bool pointwise = conv2d_neon_is_pointwise(p);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t g = 0; g < p.group; ++g) {
      const float* xg = x + ((int64_t)nn * p.c + (int64_t)g * cg) * hw;
      const float* wg = w + (int64_t)g * mg * K;
      float* yg = y + ((int64_t)nn * p.m + (int64_t)g * mg) * ohw;
      const float* cols = xg;
      if (!pointwise) {
        detail::neon_im2col(p, cg, xg, scratch);
        cols = scratch;
      }
      sgemm_f32_neon(mg, ohw, K, wg, K, cols, ohw, yg, ohw, false);
    }
    float* yn = y + (int64_t)nn * p.m * ohw;
    for (int32_t co = 0; co < p.m; ++co) {
      float* yc = yn + (int64_t)co * ohw;
      neon::act_map(p.act, ohw, yc, yc, neon::Affine{1.f, bias ? bias[co] : 0.f});
    }
  }
}

}  // namespace lne

#endif  // __ARM_NEON
