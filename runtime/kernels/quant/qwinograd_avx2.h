// LNE runtime: exact integer Winograd F(2x2, 3x3) for int8 3x3 convolutions (stride 1, dilation 1,
// one group), AVX2. 2.25x fewer multiplications than the direct int8 GEMM, and the same integers.
//
// With G' = 2G the weight transform has integer entries: U = G' g G'^T (lne/kernels/qwinograd.py,
// at compile time; |U| <= 9 * 128 = 1152, int16, packed like qgemm_avx2.h's weight panels, one
// set per position xi of the 4x4 tile). The input transform V = B^T d B of a 4x4 patch d of
// x - zp has entries +-1 and 0 (|V| <= 4 * 255, int16). Per position, M_xi = U_xi V_xi is one
// int16 GEMM (qgemm_panels: vpmaddwd, int32 sums, |M| < 2^31 for C < 1800). The output transform
// A^T M A (entries +-1, 0) is then exactly 4 times the direct convolution's sum, so the shift by 2
// is exact, and bias + requantization follow as in every other int8 kernel: bit-identical results.
#pragma once
#include <algorithm>
#include <cstring>

#include "kernels/quant/qgemm_avx2.h"
#include "lne/kernel_util.h"

namespace lne {

struct QWino {
  int32_t kp, nt, vt;  // channels rounded up to even; tiles per block (multiple of 16); nt + 8
  // scratch: padded planes (c x rows x cols, rounded up to 16), Vt (16 x c x vt), column panels
  // (16 x nt x kp) as int16, then M (16 x m x nt) as int32, then nt int32 + nt bytes of tile corners
  int64_t scratch;  // bytes (lne/kernels/qwinograd.py)
};

// Padded plane of one channel: rows 2 * th + 2, row length 2 * tw + 2 plus 16 (the 8-tile loads
// of a row's last chunk read up to 16 columns past its last tile).
inline int64_t qwino_cols(const QConvParams& p) { return 2 * (int64_t)((p.ow + 1) / 2) + 18; }
inline int64_t qwino_rows(const QConvParams& p) { return 2 * (int64_t)((p.oh + 1) / 2) + 2; }

#if LNE_HAVE_AVX2_FMA
namespace detail {
// V = B^T d B for two groups of 4 horizontally adjacent tiles of one channel (lo, hi: the top-left
// of each group's first patch in the padded plane; tile k of a group starts at column 2k):
// out[xi] = 8 int32, lanes 0-3 the lo group's tiles, 4-7 the hi group's. Columns come in int32
// lanes as pairs: a = (d_2k, d_2k+1), b = (d_2k+2, d_2k+3); vpmaddwd with constant pairs forms
// B^T's combinations: d0 - d2, d1 + d2, d2 - d1, d1 - d3.
inline void qwino_input8(const int16_t* lo, const int16_t* hi, int64_t cols, __m256i out[16]) {
  const __m256i e0 = _mm256_set1_epi32(1), e1 = _mm256_set1_epi32(1 << 16);  // pairs (1, 0), (0, 1)
  __m256i h[4][4];
  for (int i = 0; i < 4; ++i) {
    const __m256i a = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi + i * cols),
                                          reinterpret_cast<const __m128i*>(lo + i * cols));
    const __m256i b = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi + i * cols + 2),
                                          reinterpret_cast<const __m128i*>(lo + i * cols + 2));
    const __m256i d = _mm256_sub_epi16(a, b), a1 = _mm256_madd_epi16(a, e1), b0 = _mm256_madd_epi16(b, e0);
    h[i][0] = _mm256_madd_epi16(d, e0);
    h[i][1] = _mm256_add_epi32(a1, b0);
    h[i][2] = _mm256_sub_epi32(b0, a1);
    h[i][3] = _mm256_madd_epi16(d, e1);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_sub_epi32(h[0][j], h[2][j]);
    out[4 + j] = _mm256_add_epi32(h[1][j], h[2][j]);
    out[8 + j] = _mm256_sub_epi32(h[2][j], h[1][j]);
    out[12 + j] = _mm256_sub_epi32(h[1][j], h[3][j]);
  }
}
}  // namespace detail
#endif

template <typename TX, typename TY>
inline void qconv2d_winograd_avx2(const QConvParams& p, const QWino& q, const TX* x, const int16_t* U,
                                  const int32_t* bias, const float* mult, TY* y, void* scratch) {
#if LNE_HAVE_AVX2_FMA
  const int32_t th = (p.oh + 1) / 2, tw = (p.ow + 1) / 2, kp2 = q.kp / 2;
  const int64_t tiles = (int64_t)th * tw, rows = qwino_rows(p), cols = qwino_cols(p);
  const int64_t upos = detail::qpanel_bytes(p.m, q.kp);  // int16 elements of one position's panels
  int16_t* xp = static_cast<int16_t*>(scratch);          // c planes: x - zp, 0 outside the image
  int16_t* Vt = xp + ((int64_t)p.c * rows * cols + 15) / 16 * 16;  // [16][c][vt] transformed inputs
  int16_t* V = Vt + 16 * (int64_t)p.c * q.vt;            // [16] column panels (nt x kp each)
  int32_t* M = reinterpret_cast<int32_t*>(V + 16 * (int64_t)q.nt * q.kp);  // [16][m][nt]
  const int64_t vpos = (int64_t)q.nt * q.kp, mpos = (int64_t)p.m * q.nt, tpos = (int64_t)p.c * q.vt;
  std::memset(xp, 0, (size_t)(p.c * rows * cols) * sizeof(int16_t));
  std::memset(Vt, 0, (size_t)(16 * tpos) * sizeof(int16_t));
  const __m256 flo = _mm256_set1_ps((float)(p.lo - p.y_zp)), fhi = _mm256_set1_ps((float)(p.hi - p.y_zp));
  const __m256i vzp = _mm256_set1_epi32(p.y_zp);
  for (int32_t b = 0; b < p.n; ++b) {
    const TX* xb = x + (int64_t)b * p.c * p.h * p.w;
    TY* yb = y + (int64_t)b * p.m * p.oh * p.ow;
    for (int32_t c = 0; c < p.c; ++c)  // the same region each time: the padding stays 0
      for (int32_t iy = 0; iy < p.h && iy + p.pt < rows; ++iy)
        detail::widen_row(xb + ((int64_t)c * p.h + iy) * p.w, std::min<int64_t>(p.w, cols - 16 - p.pl), p.x_zp,
                          xp + ((int64_t)c * rows + iy + p.pt) * cols + p.pl);
    for (int64_t t0 = 0; t0 < tiles; t0 += q.nt) {
      const int32_t nb = (int32_t)std::min<int64_t>(q.nt, tiles - t0), nbp = (nb + 15) / 16 * 16;
      // input transform into Vt[xi][c][t], two groups of (up to) 4 tiles of a tile row at a time
      for (int64_t t = t0; t < t0 + nb;) {
        int64_t start[2], off[2];  // first tile of each group, its patch's offset in a plane
        int32_t count[2];
        for (int g = 0; g < 2; ++g) {
          const int64_t ty = t / tw, tx = t % tw;
          count[g] = t < t0 + nb ? (int32_t)std::min<int64_t>({4, tw - tx, t0 + nb - t}) : 0;
          start[g] = count[g] ? t : start[0];
          off[g] = count[g] ? 2 * ty * cols + 2 * tx : off[0];
          t += count[g];
        }
        for (int32_t c = 0; c < p.c; ++c) {
          const int16_t* plane = xp + (int64_t)c * rows * cols;
          __m256i v[16];
          detail::qwino_input8(plane + off[0], plane + off[1], cols, v);
          // 4 lanes per group are stored: those past its count land on the next tiles' slots,
          // rewritten after, or past the block's tiles (each row has 8 spare slots; not stored)
          int16_t* vt = Vt + (int64_t)c * q.vt - t0;
          for (int xi = 0; xi < 16; ++xi) {
            const __m128i w = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi32(v[xi], v[xi]), 0xD8));
            _mm_storel_epi64(reinterpret_cast<__m128i*>(vt + xi * tpos + start[0]), w);
            if (count[1]) _mm_storel_epi64(reinterpret_cast<__m128i*>(vt + xi * tpos + start[1]), _mm_unpackhi_epi64(w, w));
          }
        }
      }
      // the output transform reads whole groups of 8 columns: zero those past the block's tiles
      for (int64_t r = 0; r < 16 * (int64_t)p.m && nb % 8; ++r)
        std::memset(M + r * q.nt + nb, 0, (size_t)(8 - nb % 8) * sizeof(int32_t));
      for (int xi = 0; xi < 16; ++xi) {  // column panels (pairs of channels), then the GEMM
        const int16_t* vx = Vt + xi * tpos;
        for (int32_t kk = 0; kk < kp2; ++kk) {
          // odd channel count: the padding channel's weights are 0, so it may repeat the last channel
          const int16_t* r1 = 2 * kk + 1 < p.c ? vx + (2 * kk + 1) * (int64_t)q.vt : vx + (2 * kk) * (int64_t)q.vt;
          detail::interleave_pair(vx + 2 * kk * (int64_t)q.vt, r1, nbp, kk, kp2, V + xi * vpos);
        }
        detail::qgemm_panels<int32_t, int16_t>(p.m, q.kp, U + xi * upos, V + xi * vpos, nb, nullptr, nullptr, 0, 0,
                                               0, M + xi * mpos, q.nt, 1);
      }
      // output transform (A^T E A, int32 wrap-around arithmetic: exact since the result fits),
      // / 4 (exact), bias, requantization: 8 tiles at a time. Per tile: its top-left output and
      // which of its 2 x 2 outputs are inside (bit 0: right column, bit 1: bottom row).
      int32_t* corner = reinterpret_cast<int32_t*>(M + 16 * mpos);
      uint8_t* inside = reinterpret_cast<uint8_t*>(corner + q.nt);
      for (int32_t t = 0; t < nb; ++t) {
        const int64_t oy = 2 * ((t0 + t) / tw), ox = 2 * ((t0 + t) % tw);
        corner[t] = (int32_t)(oy * p.ow + ox);
        inside[t] = (uint8_t)((ox + 1 < p.ow ? 1 : 0) | (oy + 1 < p.oh ? 2 : 0));
      }
      for (int32_t m = 0; m < p.m; ++m) {
        const __m256i b0 = _mm256_set1_epi32(bias ? bias[m] : 0);
        const __m256 mm = _mm256_set1_ps(mult[m]);
        TY* ym = yb + (int64_t)m * p.oh * p.ow;
        for (int32_t t = 0; t < nb; t += 8) {
          __m256i e[16];
          for (int xi = 0; xi < 16; ++xi)
            e[xi] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(M + xi * mpos + (int64_t)m * q.nt + t));
          alignas(32) int32_t r[4][8];
          for (int i = 0; i < 2; ++i) {
            __m256i a[4];
            for (int j = 0; j < 4; ++j)
              a[j] = i == 0 ? _mm256_add_epi32(_mm256_add_epi32(e[j], e[4 + j]), e[8 + j])
                            : _mm256_sub_epi32(_mm256_sub_epi32(e[4 + j], e[8 + j]), e[12 + j]);
            const __m256i s0 = _mm256_add_epi32(_mm256_add_epi32(a[0], a[1]), a[2]);
            const __m256i s1 = _mm256_sub_epi32(_mm256_sub_epi32(a[1], a[2]), a[3]);
            const __m256i sv[2] = {s0, s1};
            for (int j = 0; j < 2; ++j) {
              const __m256i acc = _mm256_add_epi32(_mm256_srai_epi32(sv[j], 2), b0);
              __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mm);
              f = _mm256_min_ps(_mm256_max_ps(_mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), flo), fhi);
              _mm256_store_si256(reinterpret_cast<__m256i*>(r[2 * i + j]), _mm256_add_epi32(_mm256_cvtps_epi32(f), vzp));
            }
          }
          for (int32_t k = 0; k < 8 && t + k < nb; ++k) {
            TY* yt = ym + corner[t + k];
            const int in = inside[t + k];
            yt[0] = (TY)r[0][k];
            if (in & 1) yt[1] = (TY)r[1][k];
            if (in & 2) {
              yt[p.ow] = (TY)r[2][k];
              if (in & 1) yt[p.ow + 1] = (TY)r[3][k];
            }
          }
        }
      }
    }
  }
#else
  (void)p; (void)q; (void)x; (void)U; (void)bias; (void)mult; (void)y; (void)scratch;
#endif
}

}  // namespace lne
