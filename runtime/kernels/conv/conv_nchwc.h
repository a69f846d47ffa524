// LNE runtime: convolutions on the blocked NCHW8c layout.
//
// NCHW8c keeps 8 channels innermost: x[n][ceil(c/8)][h][w][8], so one 8-lane vector is 8 channels
// of one pixel; a channel count that is not a multiple of 8 is padded with zero channels, which
// every kernel here writes as zeros (so only activations with act(0) == 0 are fused where a
// conv's output is padded: the layout pass checks). Nothing is shuffled: a stride-2
// depthwise conv reads every other pixel vector, and a GEMM-based conv stores each accumulator
// as one contiguous vector. The layout pass (lne/passes/layout.py) puts chains of such convs in
// this layout, with Reorder nodes (kernels/tensor/reorder.h) where they meet NCHW tensors.
//
// GEMM-based (pointwise on a blocked input; any group-1 conv from an NCHW input through im2col):
//   y[m/8][p][m%8] = act(b[m] + sum_k w[m][k] x(k, p)). Weights are packed at compile time into
//   16-channel panels [M/16][K][16] (packed_gemm.h layout, zero past M). The micro-kernel keeps
//   6 pixels x 16 channels (two blocks) in 12 accumulators; per input channel k it loads one
//   weight row and broadcasts k of 6 pixels. Loop order: L2-sized blocks of panels, 6-pixel
//   strips, panels (a strip of x is read from L1 by every panel of the block).
// Depthwise (KxK, K = 1, 3 or 5, stride 1 or 2, dilation 1): weights packed [C/8][K*K][8]; per
//   channel block and output row, the interior pixels (every tap inside the image) run four at
//   a time without bounds checks, the border pixels tap by tap.
// Bias is the accumulators' start value; ReLU / Clip run in registers, other activations as one
// pass over the output afterwards.
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/conv/conv_params.h"
#include "kernels/conv/packed_gemm.h"

namespace lne {

constexpr int kNCHWc = 8;  // channels per block

inline int64_t nchwc_pad(int64_t c) { return (c + kNCHWc - 1) / kNCHWc * kNCHWc; }

inline bool conv2d_nchwc_pointwise_applies(const ConvParams& p) {
  return p.group == 1 && p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.oh == p.h && p.ow == p.w;
}

inline bool conv2d_nchwc_depthwise_applies(const ConvParams& p) {
  return p.group == p.c && p.c == p.m && p.kh == p.kw && (p.kh == 1 || p.kh == 3 || p.kh == 5) && p.sh == p.sw &&
         (p.sh == 1 || p.sh == 2) && p.dh == 1 && p.dw == 1;
}

// Floats of the packed GEMM weights ([M/16][K][16]): K = padded c for a pointwise conv on a
// blocked input, c*kh*kw for an im2col conv from an NCHW input.
inline int64_t conv2d_nchwc_gemm_weights_size(const ConvParams& p, bool blocked_input) {
  return detail::pg_packed_floats(p.m, blocked_input ? nchwc_pad(p.c) : (int64_t)p.c * p.kh * p.kw);
}

namespace detail {

template <int kAct>
inline vf8 nchwc_act(const vf8& v, const Act& a) {
  return kAct < 0 ? v : vf8_act<kAct>(v, a);
}

// y[blk][r][0:8] for r < R, blk < NB (1 or 2 blocks, ybs floats apart):
//   act(b16[8*blk : 8*blk + 8] + sum_k x(k, r) * wp[k][8*blk : 8*blk + 8])
// with x(k, r) = x[k/8 block, xs floats apart][r][k%8] (blocked input), or x[k*xs + r] (kPlain:
// rows of an NCHW tensor or of an im2col matrix). NB = 1 for the half panel of M = 8 mod 16.
template <int R, int NB, int kAct, bool kPlain>
inline void pwc_tile(int32_t K, const float* x, int64_t xs, const float* wp, const float* b16,
                     const Act& act, float* y, int64_t ybs) {
  // two named accumulator arrays, no lambda over them: GCC keeps them in registers
  const vf8 b0 = vf8_load(b16), b1 = NB == 2 ? vf8_load(b16 + 8) : b0;
  vf8 a0[R], a1[R];
  LNE_UNROLL for (int r = 0; r < R; ++r) {
    a0[r] = b0;
    a1[r] = b1;
  }
  constexpr int64_t kRs = kPlain ? 1 : kNCHWc;  // floats between pixels r and r + 1
  for (int32_t k = 0; k < K; ++k, wp += kPgNR) {
    // input channel k of pixels 0..R-1
    const float* xk = kPlain ? x + k * xs : x + (k / kNCHWc) * xs + (k % kNCHWc);
    const vf8 w0 = vf8_load(wp), w1 = NB == 2 ? vf8_load(wp + 8) : w0;
    LNE_UNROLL for (int r = 0; r < R; ++r) {
      const vf8 xv = vf8_set1(xk[r * kRs]);
      a0[r] += xv * w0;
      if constexpr (NB == 2) a1[r] += xv * w1;
    }
  }
  LNE_UNROLL for (int r = 0; r < R; ++r) vf8_store(y + r * kNCHWc, nchwc_act<kAct>(a0[r], act));
  if constexpr (NB == 2)
    LNE_UNROLL for (int r = 0; r < R; ++r) vf8_store(y + ybs + r * kNCHWc, nchwc_act<kAct>(a1[r], act));
}

template <int NB, int kAct, bool kPlain>
inline void pwc_tile_rows(int R, int32_t K, const float* x, int64_t xs, const float* wp,
                          const float* b16, const Act& act, float* y, int64_t ybs) {
  switch (R) {
    case 6: pwc_tile<6, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
    case 5: pwc_tile<5, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
    case 4: pwc_tile<4, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
    case 3: pwc_tile<3, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
    case 2: pwc_tile<2, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
    default: pwc_tile<1, NB, kAct, kPlain>(K, x, xs, wp, b16, act, y, ybs); break;
  }
}

// Pixels [0, np) of the GEMM into y[m/8][p][8] (blocks ybs floats apart; y points at the first
// pixel); x as in pwc_tile, pixel r at x + r*8 (blocked) or x + r (kPlain).
// M output channels (a multiple of 8: padding channels have zero weights), mb < = M of them
// with a bias.
template <int kAct, bool kPlain>
inline void pwc_gemm(int32_t np, int32_t M, int32_t mb, int32_t K, const float* x, int64_t xs,
                     const float* wp, const float* bias, const Act& act, float* y, int64_t ybs) {
  constexpr int kMR = 6;
  const int64_t panels = pg_panels(M);
  const int64_t pb = pg_block_panels(K, panels);
  // Bias of the last panel, zero past mb (all zero without a bias); the other panels read the
  // bias in place. (Building a 16-float bias per tile from scalar stores would stall the vector
  // loads that read it back.)
  alignas(32) float tail[kPgNR] = {};
  const int64_t last = panels - 1;
  if (bias)
    for (int64_t j = 0; j < kPgNR && last * kPgNR + j < mb; ++j) tail[j] = bias[last * kPgNR + j];
  for (int64_t q0 = 0; q0 < panels; q0 += pb) {
    const int64_t q1 = std::min(panels, q0 + pb);
    for (int32_t p0 = 0; p0 < np; p0 += kMR) {
      const int R = (int)std::min<int32_t>(kMR, np - p0);
      for (int64_t q = q0; q < q1; ++q) {
        const int nm = (int)std::min<int64_t>(kPgNR, M - q * kPgNR);  // 8 or 16
        const float* b16 = bias && q < last ? bias + q * kPgNR : tail;
        const float* xp = x + (int64_t)p0 * (kPlain ? 1 : kNCHWc);
        float* yp = y + 2 * q * ybs + (int64_t)p0 * kNCHWc;
        if (nm == kPgNR) pwc_tile_rows<2, kAct, kPlain>(R, K, xp, xs, wp + q * K * kPgNR, b16, act, yp, ybs);
        else pwc_tile_rows<1, kAct, kPlain>(R, K, xp, xs, wp + q * K * kPgNR, b16, act, yp, ybs);
      }
    }
  }
}

template <bool kPlain>
inline void pwc_gemm_act(int32_t np, int32_t m, int32_t K, const float* x, int64_t xs, const float* wp,
                         const float* bias, const Act& act, float* y, int64_t ybs) {
  const int kind = vf8_act_kind(act);
  const int32_t M = (int32_t)nchwc_pad(m);
  if (kind == ACT_RELU) pwc_gemm<ACT_RELU, kPlain>(np, M, m, K, x, xs, wp, bias, act, y, ybs);
  else if (kind == ACT_CLIP) pwc_gemm<ACT_CLIP, kPlain>(np, M, m, K, x, xs, wp, bias, act, y, ybs);
  else pwc_gemm<-1, kPlain>(np, M, m, K, x, xs, wp, bias, act, y, ybs);
}

// One output row of a depthwise conv on one channel block: taps w[ky*K + kx] (vectors),
// input rows xr[ky] (nullptr outside the image), output pixels [0, ow).
template <int K, int S, int kAct>
inline void dwc_row(const float* const* xr, const vf8* w, const vf8& b, const Act& act,
                    int32_t iw, int32_t ow, int32_t pl, int32_t ox_lo, int32_t ox_hi, float* y) {
  auto border = [&](int32_t ox) {
    vf8 acc = b;
    for (int ky = 0; ky < K; ++ky) {
      if (!xr[ky]) continue;
      for (int kx = 0; kx < K; ++kx) {
        const int32_t ix = ox * S - pl + kx;
        if (ix >= 0 && ix < iw) acc += w[ky * K + kx] * vf8_load(xr[ky] + (int64_t)ix * kNCHWc);
      }
    }
    vf8_store(y + (int64_t)ox * kNCHWc, nchwc_act<kAct>(acc, act));
  };
  int32_t ox = 0;
  for (; ox < ox_lo; ++ox) border(ox);
  for (; ox + 4 <= ox_hi; ox += 4) {
    vf8 a0 = b, a1 = b, a2 = b, a3 = b;
    LNE_UNROLL for (int ky = 0; ky < K; ++ky) {
      if (!xr[ky]) continue;
      const float* s = xr[ky] + ((int64_t)ox * S - pl) * kNCHWc;
      LNE_UNROLL for (int kx = 0; kx < K; ++kx) {
        const vf8 wv = w[ky * K + kx];
        a0 += wv * vf8_load(s + (kx + 0 * S) * kNCHWc);
        a1 += wv * vf8_load(s + (kx + 1 * S) * kNCHWc);
        a2 += wv * vf8_load(s + (kx + 2 * S) * kNCHWc);
        a3 += wv * vf8_load(s + (kx + 3 * S) * kNCHWc);
      }
    }
    float* d = y + (int64_t)ox * kNCHWc;
    vf8_store(d, nchwc_act<kAct>(a0, act));
    vf8_store(d + kNCHWc, nchwc_act<kAct>(a1, act));
    vf8_store(d + 2 * kNCHWc, nchwc_act<kAct>(a2, act));
    vf8_store(d + 3 * kNCHWc, nchwc_act<kAct>(a3, act));
  }
  for (; ox < ow; ++ox) border(ox);
}

template <int K, int S, int kAct>
inline void dwc_image(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t ihw = (int64_t)p.h * p.w * kNCHWc, ohw = (int64_t)p.oh * p.ow * kNCHWc;
  // interior: ox*S - pl >= 0 and ox*S - pl + K - 1 < w
  int32_t ox_lo = (int32_t)std::min<int64_t>(p.ow, ceil_div(p.pl, S));
  int32_t ox_hi = (int32_t)std::max<int64_t>(ox_lo, std::min<int64_t>(p.ow, floor_div(p.w - K + p.pl, S) + 1));
  for (int32_t cb = 0; cb < nchwc_pad(p.c) / kNCHWc; ++cb) {
    const float* xc = x + cb * ihw;
    float* yc = y + cb * ohw;
    vf8 wv[K * K];
    for (int t = 0; t < K * K; ++t) wv[t] = vf8_load(w + ((int64_t)cb * K * K + t) * kNCHWc);
    const vf8 bv = bias ? vf8_load(bias + (int64_t)cb * kNCHWc) : vf8_set1(0.f);
    for (int32_t oy = 0; oy < p.oh; ++oy) {
      const float* xr[K];
      for (int ky = 0; ky < K; ++ky) {
        const int64_t iy = (int64_t)oy * S - p.pt + ky;
        xr[ky] = iy >= 0 && iy < p.h ? xc + iy * p.w * kNCHWc : nullptr;
      }
      dwc_row<K, S, kAct>(xr, wv, bv, p.act, p.w, p.ow, p.pl, ox_lo, ox_hi, yc + (int64_t)oy * p.ow * kNCHWc);
    }
  }
}

template <int K, int S>
inline void dwc_dispatch(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int kind = vf8_act_kind(p.act);
  if (kind == ACT_RELU) dwc_image<K, S, ACT_RELU>(p, x, w, bias, y);
  else if (kind == ACT_CLIP) dwc_image<K, S, ACT_CLIP>(p, x, w, bias, y);
  else dwc_image<K, S, -1>(p, x, w, bias, y);
}

}  // namespace detail

// x [n][c/8][h][w][8], wp from lne.kernels.nchwc.pack_gemm(w, blocked_input=True), bias [m],
// y [n][m/8][h][w][8] (channel counts rounded up to 8).
inline void conv2d_f32_pointwise_nchw8c(const ConvParams& p, const float* x, const float* wp,
                                        const float* bias, float* y) {
  const int64_t P = (int64_t)p.h * p.w, cp = nchwc_pad(p.c), mp = nchwc_pad(p.m);
  for (int32_t nn = 0; nn < p.n; ++nn)
    detail::pwc_gemm_act<false>((int32_t)P, p.m, (int32_t)cp, x + nn * cp * P, P * kNCHWc, wp, bias, p.act,
                                y + nn * mp * P, P * kNCHWc);
  if (detail::vf8_act_kind(p.act) < 0) detail::act_inplace(p.act, p.n * mp * P, y);
}

// A group-1 conv from an NCHW input x to an NCHW8c output y (m a multiple of 8): im2col of a
// block of output rows into scratch (conv2d_f32_im2col_scratch(p) floats; pointwise convs read
// x in place), then the blocked-output GEMM: a blocked region starts without a Reorder pass.
inline void conv2d_f32_im2col_nchw8c(const ConvParams& p, const float* x, const float* wp,
                                     const float* bias, float* y, float* scratch) {
  const int32_t K = p.c * p.kh * p.kw, ohw = p.oh * p.ow;
  const int64_t hw = (int64_t)p.h * p.w;
  for (int32_t nn = 0; nn < p.n; ++nn) {
    float* yi = y + nn * nchwc_pad(p.m) * ohw;
    detail::im2col_blocks(p, p.c, x + nn * p.c * hw, scratch, [&](const float* cols, int32_t xs, int32_t n0, int32_t nb) {
      detail::pwc_gemm_act<true>(nb, p.m, K, cols, xs, wp, bias, p.act, yi + (int64_t)n0 * kNCHWc,
                                 (int64_t)ohw * kNCHWc);
    });
  }
  if (detail::vf8_act_kind(p.act) < 0) detail::act_inplace(p.act, p.n * nchwc_pad(p.m) * ohw, y);
}

// x [n][c/8][h][w][8], wp [c/8][kh*kw][8] and bias [c] (or nullptr), both padded to a multiple of
// 8 channels (lne.kernels.nchwc.pack_depthwise / pad_channels), y [n][c/8][oh][ow][8].
inline void conv2d_f32_depthwise_nchw8c(const ConvParams& p, const float* x, const float* wp,
                                        const float* bias, float* y) {
  const int64_t cp = nchwc_pad(p.c);
  for (int32_t nn = 0; nn < p.n; ++nn) {
    const float* xi = x + nn * cp * p.h * p.w;
    float* yi = y + nn * cp * p.oh * p.ow;
    if (p.kh == 1 && p.sh == 1) detail::dwc_dispatch<1, 1>(p, xi, wp, bias, yi);
    else if (p.kh == 1) detail::dwc_dispatch<1, 2>(p, xi, wp, bias, yi);
    else if (p.kh == 3 && p.sh == 1) detail::dwc_dispatch<3, 1>(p, xi, wp, bias, yi);
    else if (p.kh == 3) detail::dwc_dispatch<3, 2>(p, xi, wp, bias, yi);
    else if (p.sh == 1) detail::dwc_dispatch<5, 1>(p, xi, wp, bias, yi);
    else detail::dwc_dispatch<5, 2>(p, xi, wp, bias, yi);
  }
  if (detail::vf8_act_kind(p.act) < 0) detail::act_inplace(p.act, p.n * cp * p.oh * p.ow, y);
}

}  // namespace lne
