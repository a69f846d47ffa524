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

// The GEMM runs on blocks of whole output rows: about 64K floats of output per block (so the
// bias + activation pass finds it in L2) and at least 512 columns; for im2col convs the column
// buffer holds one block. Pointwise convs with K > 64 (where the epilogue pass is cheap next to
// the GEMM) run as one block.
inline int32_t conv2d_im2col_block_rows(const ConvParams& p) {
  const int64_t mg = p.m / p.group;
  if (conv2d_is_pointwise(p) && p.c / p.group > 64) return p.oh;
  int64_t cols = std::max<int64_t>(512, 65536 / mg);
  int64_t rows = std::max<int64_t>(1, cols / p.ow);
  return (int32_t)std::min<int64_t>(rows, p.oh);
}

// Scratch size in floats (the Python compiler replicates this formula exactly).
inline size_t conv2d_f32_im2col_scratch(const ConvParams& p) {
  if (conv2d_is_pointwise(p)) return 0;
  return (size_t)(p.c / p.group) * p.kh * p.kw * conv2d_im2col_block_rows(p) * p.ow;
}

namespace detail {

// d[i] = s[i * S] for i < n, where s[0 .. n*S) lies inside one input row (so the vector loads,
// which read up to S-1 floats past the last element, stay inside it only while a full group of
// 8 fits: the rest is copied one by one).
template <int S>
inline void im2col_strided(float* LNE_RESTRICT d, const float* LNE_RESTRICT s, int64_t n,
                           int64_t avail) {
  int64_t i = 0;
#if LNE_HAVE_AVX2_FMA
  for (; i + 8 <= n && (i + 8) * S <= avail; i += 8) {
    const float* b = s + i * S;
    if (S == 2) {
      const __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(b), _mm256_loadu_ps(b + 8), _MM_SHUFFLE(2, 0, 2, 0));
      _mm256_storeu_ps(d + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    } else {  // S == 4
      const __m256 u = _mm256_shuffle_ps(_mm256_loadu_ps(b), _mm256_loadu_ps(b + 8), 0);
      const __m256 v = _mm256_shuffle_ps(_mm256_loadu_ps(b + 16), _mm256_loadu_ps(b + 24), 0);
      const __m256 w = _mm256_shuffle_ps(u, v, _MM_SHUFFLE(2, 0, 2, 0));  // 0 8 16 24 | 4 12 20 28
      _mm256_storeu_ps(d + i, _mm256_permutevar8x32_ps(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
  }
#endif
  (void)avail;
  for (; i < n; ++i) d[i] = s[i * S];
}

// cols[(ci*kh + ky)*kw + kx, oy*ow + ox] = x[ci, iy, ix] (zero outside the image), for one group.
// Output rows [oy0, oy1) only: cols[k][(oy - oy0)*ow + ox], rows (oy1 - oy0)*ow floats apart.
inline void conv_im2col(const ConvParams& p, int32_t cg, const float* x, float* LNE_RESTRICT cols,
                        int32_t oy0, int32_t oy1) {
  const int64_t ohw = (int64_t)(oy1 - oy0) * p.ow, hw = (int64_t)p.h * p.w;
  float* dst = cols;
  for (int32_t ci = 0; ci < cg; ++ci) {
    const float* xc = x + ci * hw;
    for (int32_t ky = 0; ky < p.kh; ++ky) {
      for (int32_t kx = 0; kx < p.kw; ++kx, dst += ohw) {
        const int64_t xoff = (int64_t)kx * p.dw - p.pl;
        int64_t ox0, ox1;
        valid_range(p.ow, p.sw, xoff, p.w, &ox0, &ox1);
        for (int32_t oy = oy0; oy < oy1; ++oy) {
          float* d = dst + (int64_t)(oy - oy0) * p.ow;
          const int64_t iy = (int64_t)oy * p.sh - p.pt + (int64_t)ky * p.dh;
          if (iy < 0 || iy >= p.h) {
            for (int32_t ox = 0; ox < p.ow; ++ox) d[ox] = 0.f;
            continue;
          }
          for (int64_t ox = 0; ox < ox0; ++ox) d[ox] = 0.f;
          if (ox1 > ox0) {
            const float* src = xc + iy * p.w + (ox0 * p.sw + xoff);  // x[iy, ox0*sw + xoff]
            const int64_t avail = p.w - (ox0 * p.sw + xoff);  // floats left in the row
            if (p.sw == 1) {
              std::memcpy(d + ox0, src, (size_t)(ox1 - ox0) * sizeof(float));
            } else if (p.sw == 2) {
              im2col_strided<2>(d + ox0, src, ox1 - ox0, avail);
            } else if (p.sw == 4) {
              im2col_strided<4>(d + ox0, src, ox1 - ox0, avail);
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

// For each block of output rows (conv2d_im2col_block_rows) of one image and group (x: its cg
// input planes): f(cols, ld, n0, nb) with cols[k][0:nb] (rows ld floats apart) the im2col
// columns of output pixels [n0, n0 + nb): in scratch, or x itself for a pointwise conv.
template <class F>
inline void im2col_blocks(const ConvParams& p, int32_t cg, const float* x, float* scratch, F&& f) {
  const bool pointwise = conv2d_is_pointwise(p);
  const int32_t brows = conv2d_im2col_block_rows(p);
  for (int32_t oy0 = 0; oy0 < p.oh; oy0 += brows) {
    const int32_t oy1 = std::min(p.oh, oy0 + brows);
    const int32_t n0 = oy0 * p.ow, nb = (oy1 - oy0) * p.ow;
    if (pointwise) {
      f(x + n0, p.oh * p.ow, n0, nb);
    } else {
      conv_im2col(p, cg, x, scratch, oy0, oy1);
      f((const float*)scratch, nb, n0, nb);
    }
  }
}

}  // namespace detail

// Per image and group, per block of output rows: im2col of the block into scratch (skipped for
// pointwise convs, which read x in place), sgemm_f32_blocked(W_g[m/g, K] x cols[K, block])
// straight into y, then the bias + activation epilogue on the block while it is in cache.
// scratch must hold conv2d_f32_im2col_scratch(p) floats (may be nullptr when that is 0).
inline void conv2d_f32_im2col(const ConvParams& p, const float* x, const float* w,
                              const float* bias, float* y, float* scratch) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  const int32_t K = cg * p.kh * p.kw;
  const int32_t ohw = p.oh * p.ow;
  const int64_t hw = (int64_t)p.h * p.w;
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t g = 0; g < p.group; ++g) {
      const float* xg = x + ((int64_t)nn * p.c + (int64_t)g * cg) * hw;
      const float* wg = w + (int64_t)g * mg * K;
      float* yg = y + ((int64_t)nn * p.m + (int64_t)g * mg) * ohw;
      detail::im2col_blocks(p, cg, xg, scratch, [&](const float* cols, int32_t ldb, int32_t n0, int32_t nb) {
        sgemm_f32_blocked(mg, nb, K, wg, K, cols, ldb, yg + n0, ohw, false);
        for (int32_t co = 0; co < mg; ++co) {
          float* yc = yg + (int64_t)co * ohw + n0;
          if (bias) {
            const float b = bias[g * mg + co];
            for (int32_t i = 0; i < nb; ++i) yc[i] += b;
          }
          detail::act_inplace(p.act, nb, yc);
        }
      });
    }
  }
}

}  // namespace lne
