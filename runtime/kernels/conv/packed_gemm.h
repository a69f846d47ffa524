// LNE runtime: weights-stationary GEMM on weights packed at compile time.
//
//   C[n][m] = sum_k A[k][n] * W[m][k]      n < N (positions / tiles), m < M (output channels)
//
// W is packed once, at compile time, into 16-channel panels: panel q holds channels
// [16q, 16q + 16) as K rows of 16 contiguous floats (missing channels are zero), so the inner loop
// streams it with vector loads and no packing happens at run time. A is read in place, one row
// of N positions per k (a = &A[0][0], rows ks floats apart), broadcast one value at a time.
// The micro-kernel keeps a 6 (positions) x 16 (channels) tile of C in registers: 12 AVX2
// accumulators, else 24 GCC/Clang 4-wide generic vectors (NEON on AArch64), else plain C++.
// Used by the Winograd convolutions (A = transformed input tiles of one position).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"

namespace lne {
namespace detail {

constexpr int kPgNR = 16;  // channels per panel
constexpr int kPgMR = 6;   // positions per micro-tile

inline int64_t pg_panels(int64_t m) { return (m + kPgNR - 1) / kPgNR; }
// Floats of W packed for M channels and depth K.
inline int64_t pg_packed_floats(int64_t m, int64_t k) { return pg_panels(m) * kPgNR * k; }

#if LNE_HAVE_AVX2_FMA

// c[r][0:16] = sum_k a[k*ks + r] * bp[k][0:16] for r < R (row stride ldc).
template <int R>
inline void pg_ukernel(int32_t K, const float* a, int64_t ks, const float* bp, float* c, int64_t ldc) {
  // LNE_UNROLL: without full unrolling GCC keeps the accumulator arrays in memory
  __m256 acc0[R], acc1[R];
  LNE_UNROLL for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  for (int32_t k = 0; k < K; ++k, a += ks, bp += kPgNR) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
    LNE_UNROLL for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  LNE_UNROLL for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc0[r]);
    _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
  }
}

#elif LNE_HAVE_GNU_VECTOR

typedef float lne_pg_v4f __attribute__((vector_size(16)));

template <int R>
inline void pg_ukernel(int32_t K, const float* a, int64_t ks, const float* bp, float* c, int64_t ldc) {
  lne_pg_v4f acc[R][4];
  LNE_UNROLL for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = lne_pg_v4f{0.f, 0.f, 0.f, 0.f};
  for (int32_t k = 0; k < K; ++k, a += ks, bp += kPgNR) {
    lne_pg_v4f b[4];
    std::memcpy(b, bp, sizeof(b));
    LNE_UNROLL for (int r = 0; r < R; ++r) {
      const float s = a[r];
      const lne_pg_v4f av = {s, s, s, s};
      for (int q = 0; q < 4; ++q) acc[r][q] += av * b[q];
    }
  }
  LNE_UNROLL for (int r = 0; r < R; ++r) std::memcpy(c + r * ldc, acc[r], sizeof(acc[r]));
}

#else

template <int R>
inline void pg_ukernel(int32_t K, const float* a, int64_t ks, const float* bp, float* c, int64_t ldc) {
  float acc[R][kPgNR] = {};
  for (int32_t k = 0; k < K; ++k, a += ks, bp += kPgNR)
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < kPgNR; ++j) acc[r][j] += a[r] * bp[j];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kPgNR; ++j) c[r * ldc + j] = acc[r][j];
}

#endif

inline void pg_ukernel_rows(int R, int32_t K, const float* a, int64_t ks, const float* bp, float* c,
                            int64_t ldc) {
  switch (R) {
    case 6: pg_ukernel<6>(K, a, ks, bp, c, ldc); break;
    case 5: pg_ukernel<5>(K, a, ks, bp, c, ldc); break;
    case 4: pg_ukernel<4>(K, a, ks, bp, c, ldc); break;
    case 3: pg_ukernel<3>(K, a, ks, bp, c, ldc); break;
    case 2: pg_ukernel<2>(K, a, ks, bp, c, ldc); break;
    default: pg_ukernel<1>(K, a, ks, bp, c, ldc); break;
  }
}

// Panels per block so that a block of packed weights (K x 16 floats per panel) stays in L2.
inline int64_t pg_block_panels(int32_t K, int64_t panels) {
  constexpr int64_t kL2Floats = 48 * 1024;  // 192 KiB of weights per block
  int64_t pb = kL2Floats / ((int64_t)K * kPgNR);
  if (pb < 1) pb = 1;
  if (pb >= panels) return panels;
  const int64_t nblocks = (panels + pb - 1) / pb;  // balanced blocks
  return (panels + nblocks - 1) / nblocks;
}

// C[n][0:16*panels] (row stride ldc) for n < N, A[k][n] = a[k*ks + n]. Every panel is written in
// full (padding channels give zeros). Loop order: L2-sized weight blocks, 6-position strips, panels.
inline void pg_gemm_contig(int32_t N, int32_t M, int32_t K, const float* a, int64_t ks,
                           const float* wp, float* c, int64_t ldc) {
  const int64_t panels = pg_panels(M);
  const int64_t pb = pg_block_panels(K, panels);
  for (int64_t q0 = 0; q0 < panels; q0 += pb) {
    const int64_t q1 = std::min(panels, q0 + pb);
    for (int32_t n0 = 0; n0 < N; n0 += kPgMR) {
      const int R = (int)std::min<int32_t>(kPgMR, N - n0);
      for (int64_t q = q0; q < q1; ++q)
        pg_ukernel_rows(R, K, a + n0, ks, wp + q * K * kPgNR, c + n0 * ldc + q * kPgNR, ldc);
    }
  }
}

}  // namespace detail
}  // namespace lne
