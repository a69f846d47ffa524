// LNE runtime: reference (direct, obviously-correct) 2-D convolution.
#pragma once
#include "lne/common.h"
#include "kernels/conv/conv_params.h"

namespace lne {

inline void conv2d_f32_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                           float* y) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t co = 0; co < p.m; ++co) {
      const int32_t g = co / mg;
      const float* wc = w + (int64_t)co * cg * p.kh * p.kw;
      float* yc = y + ((int64_t)nn * p.m + co) * p.oh * p.ow;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        for (int32_t ox = 0; ox < p.ow; ++ox) {
          float s = bias ? bias[co] : 0.f;
          for (int32_t ci = 0; ci < cg; ++ci) {
            const float* xc = x + ((int64_t)nn * p.c + (int64_t)g * cg + ci) * p.h * p.w;
            for (int32_t ky = 0; ky < p.kh; ++ky) {
              const int32_t iy = oy * p.sh - p.pt + ky * p.dh;
              if (iy < 0 || iy >= p.h) continue;
              for (int32_t kx = 0; kx < p.kw; ++kx) {
                const int32_t ix = ox * p.sw - p.pl + kx * p.dw;
                if (ix < 0 || ix >= p.w) continue;
                s += xc[(int64_t)iy * p.w + ix] * wc[((int64_t)ci * p.kh + ky) * p.kw + kx];
              }
            }
          }
          yc[(int64_t)oy * p.ow + ox] = apply_act(p.act, s);
        }
      }
    }
  }
}

}  // namespace lne
