// LNE runtime: cache-blocked SGEMM with a register-blocked 6x16 micro-kernel.
//
// Blocking: B is packed, one (kc x nc) block at a time, into a bounded stack buffer as 16-column
// panels (zero-padded on the right edge); A is read in place (6 rows at a time, broadcast per k).
// The micro-kernel keeps a 6x16 tile of C in registers: 12 AVX2 accumulators when built with
// AVX2+FMA (plus a half-width variant for right-edge panels of <= 8 columns), else 24 GCC/Clang
// generic 4-wide vectors (NEON on AArch64), else plain C++.
// Special shapes: M <= 2 (GEMV, e.g. a batch-1 fully-connected layer) skips packing and streams
// B once per row; N == 1 runs as M dot products.
// No heap allocation: the only scratch is on the stack (kGemmPackFloats floats = 48 KiB).
#pragma once
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "kernels/gemm/gemm_ref.h"

namespace lne {
namespace detail {

constexpr int kGemmMR = 6;
constexpr int kGemmNR = 16;
constexpr int kGemmKC = 256;
constexpr int kGemmPackFloats = 12288;  // 48 KiB: kc * nc <= this

// Pack B[0:kc, 0:nc] (leading dim ldb) into 16-wide panels: panel p holds columns
// [16p, 16p+16) as kc rows of 16 contiguous floats; missing columns are zero.
inline void gemm_pack_b(int32_t kc, int32_t nc, const float* B, int64_t ldb, float* LNE_RESTRICT buf) {
  for (int32_t j0 = 0; j0 < nc; j0 += kGemmNR) {
    const int32_t nr = std::min(kGemmNR, nc - j0);
    float* dst = buf + (int64_t)(j0 / kGemmNR) * kc * kGemmNR;
    const float* src = B + j0;
    if (nr == kGemmNR) {
      for (int32_t k = 0; k < kc; ++k) {
        std::memcpy(dst + (int64_t)k * kGemmNR, src + (int64_t)k * ldb, kGemmNR * sizeof(float));
      }
    } else {
      for (int32_t k = 0; k < kc; ++k) {
        float* d = dst + (int64_t)k * kGemmNR;
        const float* s = src + (int64_t)k * ldb;
        int32_t j = 0;
        for (; j < nr; ++j) d[j] = s[j];
        for (; j < kGemmNR; ++j) d[j] = 0.f;
      }
    }
  }
}

// Write a computed MR x 16 tile (row stride 16) into C (only the first nr columns).
template <int MR>
inline void gemm_store_tile(const float* tile, float* C, int64_t ldc, int32_t nr, bool load_c) {
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    const float* t = tile + r * kGemmNR;
    if (load_c) {
      for (int32_t j = 0; j < nr; ++j) c[j] += t[j];
    } else {
      for (int32_t j = 0; j < nr; ++j) c[j] = t[j];
    }
  }
}

#if LNE_HAVE_AVX2_FMA

// C[MR, nr] (+)= A[MR, kc] (row stride lda) * Bpanel[kc, 16].
template <int MR>
inline void gemm_ukernel(int32_t kc, const float* A, int64_t lda, const float* bp, float* C,
                         int64_t ldc, int32_t nr, bool load_c) {
  __m256 acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = A + r * lda;
  int32_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    {
      const __m256 b0 = _mm256_load_ps(bp);
      const __m256 b1 = _mm256_load_ps(bp + 8);
      for (int r = 0; r < MR; ++r) {
        const __m256 av = _mm256_broadcast_ss(a[r] + k);
        acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
      }
    }
    {
      const __m256 b0 = _mm256_load_ps(bp + 16);
      const __m256 b1 = _mm256_load_ps(bp + 24);
      for (int r = 0; r < MR; ++r) {
        const __m256 av = _mm256_broadcast_ss(a[r] + k + 1);
        acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
      }
    }
    bp += 2 * kGemmNR;
  }
  if (k < kc) {
    const __m256 b0 = _mm256_load_ps(bp);
    const __m256 b1 = _mm256_load_ps(bp + 8);
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a[r] + k);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  if (nr == kGemmNR) {
    for (int r = 0; r < MR; ++r) {
      float* c = C + r * ldc;
      if (load_c) {
        acc0[r] = _mm256_add_ps(acc0[r], _mm256_loadu_ps(c));
        acc1[r] = _mm256_add_ps(acc1[r], _mm256_loadu_ps(c + 8));
      }
      _mm256_storeu_ps(c, acc0[r]);
      _mm256_storeu_ps(c + 8, acc1[r]);
    }
  } else {
    alignas(32) float tile[MR * kGemmNR];
    for (int r = 0; r < MR; ++r) {
      _mm256_store_ps(tile + r * kGemmNR, acc0[r]);
      _mm256_store_ps(tile + r * kGemmNR + 8, acc1[r]);
    }
    gemm_store_tile<MR>(tile, C, ldc, nr, load_c);
  }
}

// Right-edge panel with at most 8 live columns: half the work of the 16-wide kernel.
template <int MR>
inline void gemm_ukernel_n8(int32_t kc, const float* A, int64_t lda, const float* bp, float* C,
                            int64_t ldc, int32_t nr, bool load_c) {
  __m256 acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_ps();
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = A + r * lda;
  for (int32_t k = 0; k < kc; ++k, bp += kGemmNR) {
    const __m256 b0 = _mm256_load_ps(bp);
    for (int r = 0; r < MR; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a[r] + k), b0, acc[r]);
  }
  alignas(32) float tile[MR * kGemmNR];
  for (int r = 0; r < MR; ++r) _mm256_store_ps(tile + r * kGemmNR, acc[r]);
  gemm_store_tile<MR>(tile, C, ldc, nr, load_c);
}
#define LNE_GEMM_HAVE_N8 1

#elif LNE_HAVE_GNU_VECTOR  // portable: GCC/Clang generic vectors (NEON, SSE, ...)

typedef float lne_v4f __attribute__((vector_size(16)));

template <int MR>
inline void gemm_ukernel(int32_t kc, const float* A, int64_t lda, const float* bp, float* C,
                         int64_t ldc, int32_t nr, bool load_c) {
  // 6x16 tile = 24 four-wide accumulators: stays in registers on AArch64 (32 q-registers).
  lne_v4f acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = lne_v4f{0.f, 0.f, 0.f, 0.f};
  for (int32_t k = 0; k < kc; ++k) {
    lne_v4f b[4];
    std::memcpy(b, bp + (int64_t)k * kGemmNR, sizeof(b));
    for (int r = 0; r < MR; ++r) {
      const float s = A[r * lda + k];
      const lne_v4f av = {s, s, s, s};
      for (int q = 0; q < 4; ++q) acc[r][q] += av * b[q];
    }
  }
  alignas(16) float tile[MR * kGemmNR];
  std::memcpy(tile, acc, sizeof(tile));
  gemm_store_tile<MR>(tile, C, ldc, nr, load_c);
}

#else  // plain C++ fallback

template <int MR>
inline void gemm_ukernel(int32_t kc, const float* A, int64_t lda, const float* bp, float* C,
                         int64_t ldc, int32_t nr, bool load_c) {
  float acc[MR * kGemmNR] = {};
  for (int32_t k = 0; k < kc; ++k) {
    const float* b = bp + (int64_t)k * kGemmNR;
    for (int r = 0; r < MR; ++r) {
      const float av = A[r * lda + k];
      for (int j = 0; j < kGemmNR; ++j) acc[r * kGemmNR + j] += av * b[j];
    }
  }
  gemm_store_tile<MR>(acc, C, ldc, nr, load_c);
}

#endif

// Short-M path: each row of C streams all of B once (contiguous rows, k unrolled by 4).
inline void gemm_small_m(int32_t M, int32_t N, int32_t K, const float* A, int64_t lda,
                         const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  constexpr int32_t kJB = 1024;  // columns per chunk: 4 KiB of C stays in L1
  for (int32_t i = 0; i < M; ++i) {
    const float* a = A + i * lda;
    for (int32_t j0 = 0; j0 < N; j0 += kJB) {
      const int32_t nb = std::min(kJB, N - j0);
      float* LNE_RESTRICT c = C + i * ldc + j0;
      if (!accumulate)
        for (int32_t j = 0; j < nb; ++j) c[j] = 0.f;
      int32_t k = 0;
      for (; k + 4 <= K; k += 4) {
        const float a0 = a[k], a1 = a[k + 1], a2 = a[k + 2], a3 = a[k + 3];
        const float* LNE_RESTRICT b0 = B + k * ldb + j0;
        const float* LNE_RESTRICT b1 = b0 + ldb;
        const float* LNE_RESTRICT b2 = b1 + ldb;
        const float* LNE_RESTRICT b3 = b2 + ldb;
        for (int32_t j = 0; j < nb; ++j) c[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
      }
      for (; k < K; ++k) {
        const float a0 = a[k];
        const float* LNE_RESTRICT b0 = B + k * ldb + j0;
        for (int32_t j = 0; j < nb; ++j) c[j] += a0 * b0[j];
      }
    }
  }
}

// N == 1 (matrix-vector with the vector in B): the B column is gathered into a stack buffer in
// chunks, then each row of A is one dot product (8 independent partial sums so it vectorises).
inline void gemm_n1(int32_t M, int32_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, bool accumulate) {
  constexpr int32_t kChunk = 2048;
  alignas(32) float xb[kChunk];
  for (int32_t k0 = 0; k0 < K; k0 += kChunk) {
    const int32_t kc = std::min(kChunk, K - k0);
    for (int32_t k = 0; k < kc; ++k) xb[k] = B[(int64_t)(k0 + k) * ldb];
    const bool load_c = accumulate || k0 > 0;
    for (int32_t i = 0; i < M; ++i) {
      const float* LNE_RESTRICT a = A + i * lda + k0;
      float part[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
      int32_t k = 0;
      for (; k + 8 <= kc; k += 8)
        for (int l = 0; l < 8; ++l) part[l] += a[k + l] * xb[k + l];
      float s = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
      for (; k < kc; ++k) s += a[k] * xb[k];
      float* c = C + i * ldc;
      *c = load_c ? *c + s : s;
    }
  }
}

}  // namespace detail

// Row-major C[M,N] (+)= A[M,K] * B[K,N]. Correct for any M, N, K >= 1 (K == 0 writes zeros or
// leaves C unchanged when accumulating). A, B must not overlap C.
inline void sgemm_f32_blocked(int32_t M, int32_t N, int32_t K, const float* A, int32_t lda,
                              const float* B, int32_t ldb, float* C, int32_t ldc, bool accumulate) {
  using namespace detail;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int32_t i = 0; i < M; ++i)
        for (int32_t j = 0; j < N; ++j) C[(int64_t)i * ldc + j] = 0.f;
    return;
  }
  if (M <= 2) {
    gemm_small_m(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  if (N == 1) {
    gemm_n1(M, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  alignas(64) float pack[kGemmPackFloats];
  // Block sizes: if all of N (rounded to panels) fits with a K block of at least 128, take it in
  // one block (A is then streamed once); else K blocks of 256 and the widest column blocks that
  // fit, balanced so that no block is a thin remainder.
  const int32_t n_round = (N + kGemmNR - 1) / kGemmNR * kGemmNR;
  const bool one_col_block = n_round * 128 <= kGemmPackFloats;
  const int32_t kc_cap = one_col_block ? std::min(512, kGemmPackFloats / n_round) : kGemmKC;
  const int32_t kblocks = (K + kc_cap - 1) / kc_cap;
  const int32_t kc_max = (K + kblocks - 1) / kblocks;  // balanced K blocks
  int32_t nc_max = n_round;
  if (!one_col_block) {
    const int32_t nc_fit = (kGemmPackFloats / kc_max) / kGemmNR * kGemmNR;
    const int32_t nblocks = (N + nc_fit - 1) / nc_fit;
    nc_max = ((N + nblocks - 1) / nblocks + kGemmNR - 1) / kGemmNR * kGemmNR;
  }
  for (int32_t jc = 0; jc < N; jc += nc_max) {
    const int32_t nc = std::min(nc_max, N - jc);
    for (int32_t pc = 0; pc < K; pc += kc_max) {
      const int32_t kc = std::min(kc_max, K - pc);
      gemm_pack_b(kc, nc, B + (int64_t)pc * ldb + jc, ldb, pack);
      const bool load_c = accumulate || pc > 0;
      for (int32_t ic = 0; ic < M; ic += kGemmMR) {
        const int32_t mr = std::min(kGemmMR, M - ic);
        const float* a = A + (int64_t)ic * lda + pc;
        float* crow = C + (int64_t)ic * ldc + jc;
        for (int32_t jr = 0; jr < nc; jr += kGemmNR) {
          const int32_t nr = std::min(kGemmNR, nc - jr);
          const float* bp = pack + (int64_t)(jr / kGemmNR) * kc * kGemmNR;
          float* c = crow + jr;
#if defined(LNE_GEMM_HAVE_N8)
          if (nr <= 8) {
            switch (mr) {
              case 6: gemm_ukernel_n8<6>(kc, a, lda, bp, c, ldc, nr, load_c); break;
              case 5: gemm_ukernel_n8<5>(kc, a, lda, bp, c, ldc, nr, load_c); break;
              case 4: gemm_ukernel_n8<4>(kc, a, lda, bp, c, ldc, nr, load_c); break;
              case 3: gemm_ukernel_n8<3>(kc, a, lda, bp, c, ldc, nr, load_c); break;
              case 2: gemm_ukernel_n8<2>(kc, a, lda, bp, c, ldc, nr, load_c); break;
              default: gemm_ukernel_n8<1>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            }
            continue;
          }
#endif
          switch (mr) {
            case 6: gemm_ukernel<6>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            case 5: gemm_ukernel<5>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            case 4: gemm_ukernel<4>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            case 3: gemm_ukernel<3>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            case 2: gemm_ukernel<2>(kc, a, lda, bp, c, ldc, nr, load_c); break;
            default: gemm_ukernel<1>(kc, a, lda, bp, c, ldc, nr, load_c); break;
          }
        }
      }
    }
  }
}

// ONNX Gemm, precondition trans_a == 0 && trans_b == 0 (the compiler pre-transposes constant
// weights). The product goes straight into y, then one epilogue pass applies alpha, the broadcast
// beta * c term and the activation.
inline void gemm_f32_blocked(const GemmParams& p, const float* a, const float* b, const float* c,
                             float* y) {
  const int32_t M = p.m, N = p.n;
  sgemm_f32_blocked(M, N, p.k, a, p.k, b, N, y, N, false);
  const bool has_c = c != nullptr && p.beta != 0.f;
  for (int32_t i = 0; i < M; ++i) {
    float* LNE_RESTRICT yr = y + (int64_t)i * N;
    if (p.alpha != 1.f) {
      const float al = p.alpha;
      for (int32_t j = 0; j < N; ++j) yr[j] *= al;
    }
    if (has_c) {
      const float be = p.beta;
      const float* cr = c + (int64_t)(i % p.c_rows) * p.c_cols;
      if (p.c_cols == N) {
        for (int32_t j = 0; j < N; ++j) yr[j] += be * cr[j];
      } else if (p.c_cols == 1) {
        const float v = be * cr[0];
        for (int32_t j = 0; j < N; ++j) yr[j] += v;
      } else {
        for (int32_t j = 0; j < N; ++j) yr[j] += be * cr[j % p.c_cols];
      }
    }
    detail::act_inplace(p.act, N, yr);
  }
}

// Batched MatMul on the blocked SGEMM. When B is shared over the batch and A batches are
// contiguous, the batch folds into M (one bigger GEMM).
inline void matmul_f32_blocked(const MatMulParams& p, const float* a, const float* b, float* y) {
  const int64_t mn = (int64_t)p.m * p.n;
  if (p.batch > 1 && p.b_batch_stride == 0 && p.a_batch_stride == (int64_t)p.m * p.k &&
      (int64_t)p.batch * p.m <= INT32_MAX) {
    sgemm_f32_blocked(p.batch * p.m, p.n, p.k, a, p.k, b, p.n, y, p.n, false);
    return;
  }
  for (int32_t bi = 0; bi < p.batch; ++bi) {
    sgemm_f32_blocked(p.m, p.n, p.k, a + bi * p.a_batch_stride, p.k, b + bi * p.b_batch_stride,
                      p.n, y + bi * mn, p.n, false);
  }
}

}  // namespace lne
