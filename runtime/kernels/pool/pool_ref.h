// LNE runtime: 2-D max / average pooling and global pooling (NCHW, fp32).
#pragma once
#include <limits>

#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {

// Window of output (oy, ox): rows iy = oy*sh - pt + ky*dh (ky < kh), columns likewise.
// pb / pr (bottom / right padding) only matter for avgpool with count_include_pad.
struct PoolParams {
  int32_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  int32_t count_include_pad;
};

// Max over the window taps inside the image (padding ignored). A window with no tap inside the
// image (impossible for valid ONNX pads) yields -inf (the lowest value for integer types).
// T = float, or the integers of a quantized tensor (max commutes with its affine map).
template <typename T>
inline void maxpool2d_ref(const PoolParams& p, const T* x, T* y) {
  using Lim = std::numeric_limits<T>;
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t planes = (int64_t)p.n * p.c;
  for (int64_t pc = 0; pc < planes; ++pc) {
    const T* xc = x + pc * hw;
    T* yc = y + pc * ohw;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      // kernel rows inside the image: ky in [ky0, ky1)
      int64_t ky0, ky1;
      detail::valid_range(p.kh, p.dh, (int64_t)oy * p.sh - p.pt, p.h, &ky0, &ky1);
      for (int32_t ox = 0; ox < p.ow; ++ox) {
        int64_t kx0, kx1;
        detail::valid_range(p.kw, p.dw, (int64_t)ox * p.sw - p.pl, p.w, &kx0, &kx1);
        T m = Lim::has_infinity ? -Lim::infinity() : Lim::lowest();
        for (int64_t ky = ky0; ky < ky1; ++ky) {
          const int64_t r = ((int64_t)oy * p.sh - p.pt + ky * p.dh) * p.w + ((int64_t)ox * p.sw - p.pl);
          for (int64_t kx = kx0; kx < kx1; ++kx) {
            const T v = xc[r + kx * p.dw];
            m = v > m ? v : m;
          }
        }
        yc[(int64_t)oy * p.ow + ox] = m;
      }
    }
  }
}

inline void maxpool2d_f32_ref(const PoolParams& p, const float* x, float* y) { maxpool2d_ref(p, x, y); }

// ONNX AveragePool. count_include_pad = 0: divisor = taps inside [0,h) x [0,w);
// = 1: divisor = taps inside the padded extent [-pt, h+pb) x [-pl, w+pr) (ceil-mode overhang past
// the padding is not counted). Dilation is honoured for the sum and both divisors.
inline void avgpool2d_f32_ref(const PoolParams& p, const float* x, float* y) {
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  const int64_t planes = (int64_t)p.n * p.c;
  for (int64_t pc = 0; pc < planes; ++pc) {
    const float* xc = x + pc * hw;
    float* yc = y + pc * ohw;
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      const int64_t y0 = (int64_t)oy * p.sh - p.pt;
      int64_t ky0, ky1, py0, py1;
      detail::valid_range(p.kh, p.dh, y0, p.h, &ky0, &ky1);
      detail::valid_range(p.kh, p.dh, y0 + p.pt, (int64_t)p.h + p.pt + p.pb, &py0, &py1);
      for (int32_t ox = 0; ox < p.ow; ++ox) {
        const int64_t x0 = (int64_t)ox * p.sw - p.pl;
        int64_t kx0, kx1, px0, px1;
        detail::valid_range(p.kw, p.dw, x0, p.w, &kx0, &kx1);
        detail::valid_range(p.kw, p.dw, x0 + p.pl, (int64_t)p.w + p.pl + p.pr, &px0, &px1);
        float s = 0.f;
        for (int64_t ky = ky0; ky < ky1; ++ky) {
          const int64_t r = (y0 + ky * p.dh) * p.w + x0;
          for (int64_t kx = kx0; kx < kx1; ++kx) s += xc[r + kx * p.dw];
        }
        const int64_t cnt = p.count_include_pad ? (py1 - py0) * (px1 - px0)
                                                : (ky1 - ky0) * (kx1 - kx0);
        yc[(int64_t)oy * p.ow + ox] = cnt > 0 ? s / (float)cnt : 0.f;
      }
    }
  }
}

// y[i] = mean(x[i, 0:hw]) for i < nc.
inline void global_avgpool_f32_ref(int64_t nc, int64_t hw, const float* x, float* y) {
  for (int64_t i = 0; i < nc; ++i) {
    const float* xc = x + i * hw;
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    const int64_t n4 = hw / 4 * 4;  // bound first: GCC 12 misreads `j + 4 <= hw` loops after inlining
    for (int64_t j = 0; j < n4; j += 4) {
      s0 += xc[j];
      s1 += xc[j + 1];
      s2 += xc[j + 2];
      s3 += xc[j + 3];
    }
    for (int64_t j = n4; j < hw; ++j) s0 += xc[j];
    y[i] = hw > 0 ? ((s0 + s1) + (s2 + s3)) / (float)hw : 0.f;
  }
}

// y[i] = max(x[i, 0:hw]) for i < nc.
inline void global_maxpool_f32_ref(int64_t nc, int64_t hw, const float* x, float* y) {
  for (int64_t i = 0; i < nc; ++i) {
    const float* xc = x + i * hw;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < hw; ++j) m = xc[j] > m ? xc[j] : m;
    y[i] = m;
  }
}

}  // namespace lne
