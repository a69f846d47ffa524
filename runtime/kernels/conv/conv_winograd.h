// LNE runtime: Winograd convolution F(2x2, 3x3), F(4x4, 3x3) and F(2x2, 5x5) (stride 1,
// dilation 1, any group and padding), NCHW fp32; groups run one after the other.
//
// Weights are transformed at compile time (lne/kernels/winograd.py; winograd_f32_transform_weights
// below is the same transform in C++, for the tests): U = G g G^T for every (m, c), stored per
// transform position as packed 16-channel GEMM panels (see packed_gemm.h):
//   wt[group][pos][M/16 panels][C][16]    pos < A*A, A = MT + R - 1 (channels past M are zero;
//   M, C per group).
// Run time, per image and group:
//  1. input transform: every MT x MT output tile reads an A x A input patch d; V = B^T d B goes
//     to scratch V[pos][c][tile]. Eight tiles of a tile row are transformed together: the A input
//     rows of a tile row are staged once (zero padded) on the stack, and the A columns of eight
//     tiles are split out of them (AVX2 shuffles, else a strided gather) into eight-lane vectors.
//  2. one GEMM per position: O[tile][pos][m] = sum_c V[pos][c][tile] * U[pos][m][c]
//     (weights-stationary micro-kernel: tiles x 16 channels).
//  3. output transform Y = A^T O A for eight channels at a time, + bias, activation, and the
//     MT x MT block written to each channel plane (clipped at the right / bottom edges).
// Scratch: winograd_f32_scratch(p, MT) floats. The transforms use the portable 8-lane vf8 type
// (kernel_util.h) with AVX2 shuffles where marked; the GEMM micro-kernel has explicit variants.
#pragma once
#include <cstring>

#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/conv/conv_params.h"
#include "kernels/conv/packed_gemm.h"

namespace lne {
namespace detail {

constexpr int kWinoLanes = 8;  // tiles per input-transform step, channels per output step

template <int MT, int R>
struct WinoDims {
  static constexpr int A = MT + R - 1;  // transform size: 4 (F(2,3)) or 6 (F(4,3), F(2,5))
  static constexpr int A2 = A * A;      // positions
};

inline int64_t wino_tiles_h(const ConvParams& p, int mt) { return (p.oh + mt - 1) / mt; }
inline int64_t wino_tiles_w(const ConvParams& p, int mt) { return (p.ow + mt - 1) / mt; }
// Tile stride of V: room for the last 8-tile step to run past the last tile.
inline int64_t wino_tile_stride(int64_t tiles) { return (tiles + kWinoLanes + 7) / 8 * 8; }

// G (A x r) of F(mt x mt, r x r): row i = f_i * (1, p_i, p_i^2, ...) for the interpolation points
// p = 0, 1, -1 (, 2, -2) and the point at infinity (last row: (0, ..., 0, 1)); f_i matches B^T.
inline double wino_g(int a, int r, int i, int k) {
  static const double pts[5] = {0, 1, -1, 2, -2};
  static const double f4[3] = {1, .5, .5}, f6[5] = {1. / 4, -1. / 6, -1. / 6, 1. / 24, 1. / 24};
  if (i == a - 1) return k == r - 1 ? 1.0 : 0.0;
  double v = a == 4 ? f4[i] : f6[i];
  for (int e = 0; e < k; ++e) v *= pts[i];
  return v;
}

// o = B^T e over eight lanes (e[j], o[i], i, j < A).
template <int A>
inline void wino_bt(const vf8* e, vf8* o) {
  if constexpr (A == 4) {
    o[0] = e[0] - e[2];
    o[1] = e[1] + e[2];
    o[2] = e[2] - e[1];
    o[3] = e[1] - e[3];
  } else {
    const vf8 t0 = e[4] - 4.f * e[2], t1 = e[3] - 4.f * e[1];
    const vf8 t2 = e[4] - e[2], t3 = 2.f * (e[3] - e[1]);
    o[0] = 4.f * e[0] - 5.f * e[2] + e[4];
    o[1] = t0 + t1;
    o[2] = t0 - t1;
    o[3] = t2 + t3;
    o[4] = t2 - t3;
    o[5] = 4.f * e[1] - 5.f * e[3] + e[5];
  }
}

// o = A^T e over eight lanes (e[j], j < A; o[i], i < MT).
template <int MT, int A>
inline void wino_at(const vf8* e, vf8* o) {
  if constexpr (A == 4) {
    o[0] = e[0] + e[1] + e[2];
    o[1] = e[1] - e[2] - e[3];
  } else if constexpr (MT == 2) {
    const vf8 s1 = e[1] + e[2], d1 = e[1] - e[2];
    const vf8 s2 = e[3] + e[4], d2 = e[3] - e[4];
    o[0] = e[0] + s1 + s2;
    o[1] = d1 + 2.f * d2 + e[5];
  } else {
    const vf8 s1 = e[1] + e[2], d1 = e[1] - e[2];
    const vf8 s2 = e[3] + e[4], d2 = e[3] - e[4];
    o[0] = e[0] + s1 + s2;
    o[1] = d1 + 2.f * d2;
    o[2] = s1 + 4.f * s2;
    o[3] = d1 + 8.f * d2 + e[5];
  }
}

// e[j] lane k = s[MT*k + j] for j < A, k < 8: the A input columns of eight tiles of one row.
template <int MT, int A>
inline void wino_split(const float* s, vf8* e) {
#if LNE_HAVE_AVX2_FMA
  if constexpr (MT == 4) {
    // 4-way de-interleave of s[0..31]; the columns 4, 5 of tile k are columns 0, 1 of tile k+1
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + 8);
    const __m256 r2 = _mm256_loadu_ps(s + 16), r3 = _mm256_loadu_ps(s + 24);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    // u_q = tiles 0 2 4 6 | 1 3 5 7 of column q
    const __m256 u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    const __m256 u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    const __m256 u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    const __m256 u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i next = _mm256_setr_epi32(4, 1, 5, 2, 6, 3, 7, 0);
    e[0] = (vf8)_mm256_permutevar8x32_ps(u0, order);
    e[1] = (vf8)_mm256_permutevar8x32_ps(u1, order);
    e[2] = (vf8)_mm256_permutevar8x32_ps(u2, order);
    e[3] = (vf8)_mm256_permutevar8x32_ps(u3, order);
    e[4] = (vf8)_mm256_blend_ps(_mm256_permutevar8x32_ps(u0, next), _mm256_broadcast_ss(s + 32), 0x80);
    e[5] = (vf8)_mm256_blend_ps(_mm256_permutevar8x32_ps(u1, next), _mm256_broadcast_ss(s + 33), 0x80);
    return;
  } else {
    // 2-way de-interleave of s[2h .. 2h+15], h < A/2
    for (int h = 0; h < A / 2; ++h) {
      const __m256 r0 = _mm256_loadu_ps(s + 2 * h), r1 = _mm256_loadu_ps(s + 2 * h + 8);
      const __m256 ev = _mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 od = _mm256_shuffle_ps(r0, r1, _MM_SHUFFLE(3, 1, 3, 1));
      e[2 * h] = (vf8)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
      e[2 * h + 1] = (vf8)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xD8));
    }
    return;
  }
#endif
  for (int j = 0; j < A; ++j)
    for (int k = 0; k < kWinoLanes; ++k) e[j][k] = s[MT * k + j];
}

// Staged input rows: columns [-pl, -pl + row_len) of a tile row's A input rows, covering every
// 8-tile step and what its vector loads read (MT * (tiles rounded to 8) + 8 columns).
constexpr int64_t kWinoStageFloats = 6 * 1056;  // 24.75 KiB of stack
inline int64_t wino_row_len(const ConvParams& p, int mt) {
  return mt * ((wino_tiles_w(p, mt) + kWinoLanes - 1) / kWinoLanes * kWinoLanes) + 8;
}

// Input transform of one image into V[pos][c][tile] (tile stride ts).
template <int MT, int R>
inline void wino_input(const ConvParams& p, const float* x, float* LNE_RESTRICT v, int64_t ts) {
  constexpr int A = WinoDims<MT, R>::A, L = kWinoLanes;
  const int64_t th = wino_tiles_h(p, MT), tw = wino_tiles_w(p, MT);
  const int64_t hw = (int64_t)p.h * p.w, len = wino_row_len(p, MT);
  alignas(32) float stage[kWinoStageFloats];
  // staged column j holds image column j - pl: image part [j0, j1), zero elsewhere
  const int64_t j0 = std::min<int64_t>(p.pl, len), j1 = std::min<int64_t>((int64_t)p.pl + p.w, len);
  for (int64_t i = 0; i < A * len; ++i) stage[i] = 0.f;
  vf8 h[A][A];
  for (int32_t c = 0; c < p.c; ++c) {
    const float* xc = x + c * hw;
    float* vc = v + (int64_t)c * ts;
    const int64_t pos_stride = (int64_t)p.c * ts;
    for (int64_t ty = 0; ty < th; ++ty) {
      for (int i = 0; i < A; ++i) {
        const int64_t iy = MT * ty - p.pt + i;
        float* si = stage + i * len;
        if (iy < 0 || iy >= p.h) {
          for (int64_t j = j0; j < j1; ++j) si[j] = 0.f;
        } else if (j1 > j0) {
          copy_short(si + j0, xc + iy * p.w + (j0 - p.pl), j1 - j0);
        }
      }
      for (int64_t k0 = 0; k0 < tw; k0 += L) {
        // horizontal (rows of B^T d B) then vertical; position (i, j) of the eight tiles is
        // stored at vc[(i*A + j) * pos_stride + tile]
        for (int i = 0; i < A; ++i) {
          vf8 e[A];
          wino_split<MT, A>(stage + i * len + MT * k0, e);
          wino_bt<A>(e, h[i]);
        }
        float* dst = vc + ty * tw + k0;
        for (int j = 0; j < A; ++j) {
          vf8 e[A], o[A];
          for (int i = 0; i < A; ++i) e[i] = h[i][j];
          wino_bt<A>(e, o);
          for (int i = 0; i < A; ++i) vf8_store(dst + (int64_t)(i * A + j) * pos_stride, o[i]);
        }
      }
    }
  }
}

// Write an MT x MT block of eight channels (ob[a][b][l]: row a, column b, channel l) to the
// channel planes y + l*ohw (row stride ow): rows x cols of it, nl channels.
template <int MT>
inline void wino_store_block(const float (*ob)[MT][kWinoLanes], int nl, int rows, int cols,
                             float* y, int64_t ohw, int64_t ow) {
#if LNE_HAVE_AVX2_FMA
  if constexpr (MT == 4) {
    if (nl == kWinoLanes && rows == 4 && cols == 4) {
      for (int a = 0; a < 4; ++a) {
        const __m256 r0 = _mm256_load_ps(ob[a][0]), r1 = _mm256_load_ps(ob[a][1]);
        const __m256 r2 = _mm256_load_ps(ob[a][2]), r3 = _mm256_load_ps(ob[a][3]);
        const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),   // ch 0 | 4
                             _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),   // ch 1 | 5
                             _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),   // ch 2 | 6
                             _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};  // ch 3 | 7
        float* ya = y + a * ow;
        for (int l = 0; l < 4; ++l) {
          _mm_storeu_ps(ya + l * ohw, _mm256_castps256_ps128(u[l]));
          _mm_storeu_ps(ya + (l + 4) * ohw, _mm256_extractf128_ps(u[l], 1));
        }
      }
      return;
    }
  } else {
    if (nl == kWinoLanes && rows == 2 && cols == 2) {
      for (int a = 0; a < 2; ++a) {
        const __m256 r0 = _mm256_load_ps(ob[a][0]), r1 = _mm256_load_ps(ob[a][1]);
        const __m256 t0 = _mm256_unpacklo_ps(r0, r1);  // ch 0, 1 | 4, 5
        const __m256 t1 = _mm256_unpackhi_ps(r0, r1);  // ch 2, 3 | 6, 7
        const __m128 q[4] = {_mm256_castps256_ps128(t0), _mm256_castps256_ps128(t1),
                             _mm256_extractf128_ps(t0, 1), _mm256_extractf128_ps(t1, 1)};
        float* ya = y + a * ow;
        for (int g = 0; g < 4; ++g) {  // q[g] holds channels 2g' and 2g'+1 of its half
          const int l = (g & 1) * 2 + (g >> 1) * 4;
          _mm_storel_pi((__m64*)(ya + l * ohw), q[g]);
          _mm_storeh_pi((__m64*)(ya + (l + 1) * ohw), q[g]);
        }
      }
      return;
    }
  }
#endif
  for (int l = 0; l < nl; ++l)
    for (int a = 0; a < rows; ++a)
      for (int b = 0; b < cols; ++b) y[l * ohw + a * ow + b] = ob[a][b][l];
}

// Output transform of one image from O[tile][pos][mp] into y (+ bias, activation).
template <int MT, int R, int kAct>
inline void wino_output(const ConvParams& p, const float* o, int64_t mp, const float* bias,
                        float* y) {
  constexpr int A = WinoDims<MT, R>::A, A2 = WinoDims<MT, R>::A2, L = kWinoLanes;
  const int64_t th = wino_tiles_h(p, MT), tw = wino_tiles_w(p, MT);
  const int64_t ohw = (int64_t)p.oh * p.ow;
  alignas(32) float ob[MT][MT][L];
  alignas(32) float bb[L];
  // tile by tile (its O block stays in L1), eight channels at a time
  for (int64_t ty = 0; ty < th; ++ty) {
    const int rows = (int)std::min<int64_t>(MT, p.oh - ty * MT);
    for (int64_t tx = 0; tx < tw; ++tx) {
      const int cols = (int)std::min<int64_t>(MT, p.ow - tx * MT);
      float* yt = y + ty * MT * p.ow + tx * MT;
      for (int32_t m0 = 0; m0 < p.m; m0 += L) {
        const int nl = std::min<int32_t>(L, p.m - m0);
        vf8 b = vf8_set1(0.f);
        if (bias && nl == L) {
          b = vf8_load(bias + m0);
        } else if (bias) {
          for (int l = 0; l < L; ++l) bb[l] = l < nl ? bias[m0 + l] : 0.f;
          b = vf8_load(bb);
        }
        const float* src = o + (ty * tw + tx) * A2 * mp + m0;
        vf8 t[MT][A];
        for (int j = 0; j < A; ++j) {  // vertical: t[a][j] = sum_i AT[a][i] O[i][j]
          vf8 e[A], r[MT];
          for (int i = 0; i < A; ++i) e[i] = vf8_load(src + (i * A + j) * mp);
          wino_at<MT, A>(e, r);
          for (int a = 0; a < MT; ++a) t[a][j] = r[a];
        }
        for (int a = 0; a < MT; ++a) {  // horizontal, + bias, activation
          vf8 r[MT];
          wino_at<MT, A>(t[a], r);
          for (int bx = 0; bx < MT; ++bx) vf8_store(ob[a][bx], vf8_act<kAct>(r[bx] + b, p.act));
        }
        if (kAct < 0) act_inplace(p.act, MT * MT * L, &ob[0][0][0]);
        wino_store_block<MT>(ob, nl, rows, cols, yt + (int64_t)m0 * ohw, ohw, p.ow);
      }
    }
  }
}

template <int MT, int R>
inline void wino_output_act(const ConvParams& p, const float* o, int64_t mp, const float* bias,
                            float* y) {
  switch (vf8_act_kind(p.act)) {
    case ACT_NONE: wino_output<MT, R, ACT_NONE>(p, o, mp, bias, y); break;
    case ACT_RELU: wino_output<MT, R, ACT_RELU>(p, o, mp, bias, y); break;
    case ACT_CLIP: wino_output<MT, R, ACT_CLIP>(p, o, mp, bias, y); break;
    default: wino_output<MT, R, -1>(p, o, mp, bias, y); break;
  }
}

}  // namespace detail

namespace detail {
// The convolution of one group as a group-1 convolution.
inline ConvParams wino_group_params(const ConvParams& p) {
  ConvParams q = p;
  q.c = p.c / p.group;
  q.m = p.m / p.group;
  q.group = 1;
  return q;
}
}  // namespace detail

// Preconditions of conv2d_f32_winograd_f{23,43,25}: square kernel (3x3, or 5x5 for F(2x2, 5x5)),
// stride 1, dilation 1 (any group and padding), output rows of at most ~1000 columns (the staged
// input rows live on the stack).
inline bool winograd_f32_applies(const ConvParams& p) {
  return p.kh == p.kw && (p.kh == 3 || p.kh == 5) && p.sh == 1 && p.sw == 1 && p.dh == 1 &&
         p.dw == 1 && p.group >= 1 && p.c % p.group == 0 && p.m % p.group == 0 &&
         6 * detail::wino_row_len(p, 4) <= detail::kWinoStageFloats &&
         6 * detail::wino_row_len(p, 2) <= detail::kWinoStageFloats;
}

// Floats of the transformed, packed weights of F(mt x mt, r x r) for m outputs, cg inputs per group.
inline size_t winograd_f32_weights_size(int32_t m, int32_t cg, int mt, int r, int32_t group) {
  const int64_t a = mt + r - 1;
  return (size_t)(group * a * a * detail::pg_packed_floats(m / group, cg));
}

// Scratch floats of F(mt x mt, kh x kh), one group at a time: V (A*A x C x tile stride) +
// O (tiles x A*A x M rounded to 16).
inline size_t winograd_f32_scratch(const ConvParams& p, int mt) {
  const ConvParams q = detail::wino_group_params(p);
  const int64_t a = mt + p.kh - 1;
  const int64_t tiles = detail::wino_tiles_h(q, mt) * detail::wino_tiles_w(q, mt);
  return (size_t)(a * a * q.c * detail::wino_tile_stride(tiles) +
                  a * a * tiles * detail::pg_panels(q.m) * detail::kPgNR);
}

// w [m][cg][r][r] -> wt (winograd_f32_weights_size floats): per group, U = G g G^T in double
// precision, packed per position as 16-channel panels. The compiler does the same in numpy.
inline void winograd_f32_transform_weights(int mt, int r, int32_t m, int32_t cg, const float* w,
                                           float* wt, int32_t group) {
  const int a = mt + r - 1;
  const int32_t mg = m / group;
  const int64_t mp = detail::pg_panels(mg) * detail::kPgNR;
  for (int64_t i = 0; i < (int64_t)group * a * a * mp * cg; ++i) wt[i] = 0.f;
  for (int32_t gi = 0; gi < group; ++gi) {
    float* wg = wt + (int64_t)gi * a * a * mp * cg;
    for (int32_t mi = 0; mi < mg; ++mi)
      for (int32_t ci = 0; ci < cg; ++ci) {
        const float* k = w + (((int64_t)gi * mg + mi) * cg + ci) * r * r;
        for (int i = 0; i < a; ++i)
          for (int j = 0; j < a; ++j) {
            double u = 0.0;
            for (int ky = 0; ky < r; ++ky)
              for (int kx = 0; kx < r; ++kx)
                u += detail::wino_g(a, r, i, ky) * (double)k[ky * r + kx] * detail::wino_g(a, r, j, kx);
            const int64_t q = mi / detail::kPgNR, lane = mi % detail::kPgNR;
            wg[(i * a + j) * mp * cg + (q * cg + ci) * detail::kPgNR + lane] = (float)u;
          }
      }
  }
}

template <int MT, int R>
inline void conv2d_f32_winograd(const ConvParams& p, const float* x, const float* wt,
                                const float* bias, float* y, float* scratch) {
  using namespace detail;
  constexpr int A2 = WinoDims<MT, R>::A2;
  const ConvParams q = wino_group_params(p);
  const int64_t T = wino_tiles_h(q, MT) * wino_tiles_w(q, MT), ts = wino_tile_stride(T);
  const int64_t mp = pg_panels(q.m) * kPgNR;
  float* v = scratch;
  float* o = scratch + A2 * (int64_t)q.c * ts;
  const int64_t hw = (int64_t)p.h * p.w, ohw = (int64_t)p.oh * p.ow;
  for (int32_t nn = 0; nn < p.n; ++nn) {
    for (int32_t gi = 0; gi < p.group; ++gi) {
      const float* wg = wt + (int64_t)gi * A2 * mp * q.c;
      wino_input<MT, R>(q, x + ((int64_t)nn * p.c + (int64_t)gi * q.c) * hw, v, ts);
      for (int pos = 0; pos < A2; ++pos)  // O[tile][pos][:] = V[pos][:][tile]^T U[pos]
        pg_gemm_contig((int32_t)T, q.m, q.c, v + pos * q.c * ts, ts, wg + pos * mp * q.c,
                       o + pos * mp, A2 * mp);
      wino_output_act<MT, R>(q, o, mp, bias ? bias + (int64_t)gi * q.m : nullptr,
                             y + ((int64_t)nn * p.m + (int64_t)gi * q.m) * ohw);
    }
  }
}

// F(2x2, 3x3): wt from winograd_f32_transform_weights(2, 3, ...), scratch winograd_f32_scratch(p, 2).
inline void conv2d_f32_winograd_f23(const ConvParams& p, const float* x, const float* wt,
                                    const float* bias, float* y, float* scratch) {
  conv2d_f32_winograd<2, 3>(p, x, wt, bias, y, scratch);
}

// F(4x4, 3x3): wt from winograd_f32_transform_weights(4, 3, ...), scratch winograd_f32_scratch(p, 4).
inline void conv2d_f32_winograd_f43(const ConvParams& p, const float* x, const float* wt,
                                    const float* bias, float* y, float* scratch) {
  conv2d_f32_winograd<4, 3>(p, x, wt, bias, y, scratch);
}

// F(2x2, 5x5): wt from winograd_f32_transform_weights(2, 5, ...), scratch winograd_f32_scratch(p, 2).
inline void conv2d_f32_winograd_f25(const ConvParams& p, const float* x, const float* wt,
                                    const float* bias, float* y, float* scratch) {
  conv2d_f32_winograd<2, 5>(p, x, wt, bias, y, scratch);
}

}  // namespace lne
