// LNE runtime: reference (direct, obviously-correct) 2-D convolution.
#pragma once
#include "lne/common.h"
#include "kernels/conv/conv_params.h"

namespace lne {

// The direct convolution loop nest, shared by the float and the quantized references: for each
// output, acc = init(co) + sum over the window of value(x) * w in ACC (the order fixed: ci, ky, kx),
// then store(co, index of the output, acc). P: ConvParams or QConvParams (the same geometry fields).
template <typename ACC, typename P, typename TX, typename TW, typename Init, typename Value, typename Store>
inline void conv2d_direct(const P& p, const TX* x, const TW* w, Init init, Value value, Store store) {
  const int32_t cg = p.c / p.group, mg = p.m / p.group;
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t co = 0; co < p.m; ++co) {
      const int32_t g = co / mg;
      const TW* wc = w + (int64_t)co * cg * p.kh * p.kw;
      const int64_t yc = ((int64_t)nn * p.m + co) * p.oh * p.ow;
      for (int32_t oy = 0; oy < p.oh; ++oy) {
        for (int32_t ox = 0; ox < p.ow; ++ox) {
          ACC s = init(co);
          for (int32_t ci = 0; ci < cg; ++ci) {
            const TX* xc = x + ((int64_t)nn * p.c + (int64_t)g * cg + ci) * p.h * p.w;
            for (int32_t ky = 0; ky < p.kh; ++ky) {
              const int32_t iy = oy * p.sh - p.pt + ky * p.dh;
              if (iy < 0 || iy >= p.h) continue;
              for (int32_t kx = 0; kx < p.kw; ++kx) {
                const int32_t ix = ox * p.sw - p.pl + kx * p.dw;
                if (ix < 0 || ix >= p.w) continue;
                s += value(xc[(int64_t)iy * p.w + ix]) * (ACC)wc[((int64_t)ci * p.kh + ky) * p.kw + kx];
              }
            }
          }
          store(co, yc + (int64_t)oy * p.ow + ox, s);
        }
      }
    }
  }
}

inline void conv2d_f32_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                           float* y) {
  conv2d_direct<float>(
      p, x, w, [&](int32_t co) { return bias ? bias[co] : 0.f; }, [](float v) { return v; },
      [&](int32_t, int64_t i, float s) { y[i] = apply_act(p.act, s); });
}

}  // namespace lne
