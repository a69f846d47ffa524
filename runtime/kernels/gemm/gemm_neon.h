// LNE runtime: NEON SGEMM (AArch64 and 32-bit Arm), the Arm counterpart of gemm_blocked.h.
//
// Blocking: a (kc x nc) block of B is packed into NR-column panels (zero-padded on the right)
// in a bounded stack buffer; for each MR-row strip of A, the strip is packed k-major (zero rows
// past M) and multiplied with every B panel by the register-blocked micro-kernel:
//   AArch64 (32 q registers): 8x12 tile, 24 accumulators, FMLA by element (vfmaq_laneq_f32).
//   32-bit NEON (16 q registers): 6x8 tile, 12 accumulators, VMLA / VFMA by scalar.
// Edge tiles run the same kernel on the zero padding and store only the live part.
// Special shapes: M <= 2 (GEMV, batch-1 fully connected) streams B once per row pair without
// packing; N == 1 runs M dot products.
// No heap allocation: stack scratch is kNeonPackB + MR * kNeonKC floats (about 56 KiB).
// Without NEON (x86 builds) this header declares nothing.
#pragma once
#if defined(__ARM_NEON)
#include "lne/common.h"
#include "lne/kernel_util.h"
#include "lne/neon_util.h"
#include "kernels/gemm/gemm_ref.h"

namespace lne {
namespace detail {

#if defined(__aarch64__)
constexpr int kNeonMR = 8;
constexpr int kNeonNR = 12;
#else
constexpr int kNeonMR = 6;
constexpr int kNeonNR = 8;
#endif
constexpr int32_t kNeonKC = 256;
constexpr int32_t kNeonPackB = 12288;  // floats (48 KiB): kc * nc <= this

// B[0:kc, 0:nc] (leading dim ldb) -> panels of NR columns, each kc rows of NR floats.
inline void neon_pack_b(int32_t kc, int32_t nc, const float* B, int64_t ldb, float* LNE_RESTRICT buf) {
  for (int32_t j0 = 0; j0 < nc; j0 += kNeonNR) {
    const int32_t nr = std::min<int32_t>(kNeonNR, nc - j0);
    float* dst = buf + (int64_t)(j0 / kNeonNR) * kc * kNeonNR;
    for (int32_t k = 0; k < kc; ++k, dst += kNeonNR) {
      const float* s = B + (int64_t)k * ldb + j0;
      int32_t j = 0;
      for (; j < nr; ++j) dst[j] = s[j];
      for (; j < kNeonNR; ++j) dst[j] = 0.f;
    }
  }
}

// A[0:mr, 0:kc] (leading dim lda) -> kc groups of MR floats (rows past mr are zero).
inline void neon_pack_a(int32_t mr, int32_t kc, const float* A, int64_t lda, float* LNE_RESTRICT buf) {
  for (int32_t r = 0; r < kNeonMR; ++r) {
    if (r < mr) {
      const float* a = A + r * lda;
      for (int32_t k = 0; k < kc; ++k) buf[k * kNeonMR + r] = a[k];
    } else {
      for (int32_t k = 0; k < kc; ++k) buf[k * kNeonMR + r] = 0.f;
    }
  }
}

// C[0:mr, 0:nr] (+)= packed A strip (kc x MR) * packed B panel (kc x NR).
inline void neon_ukernel(int32_t kc, const float* ap, const float* bp, float* C, int64_t ldc,
                         int32_t mr, int32_t nr, bool load_c) {
  constexpr int NV = kNeonNR / 4;
  neon::f4 c[kNeonMR][NV];
  LNE_NEON_UNROLL
  for (int r = 0; r < kNeonMR; ++r) {
    LNE_NEON_UNROLL
    for (int v = 0; v < NV; ++v) c[r][v] = vdupq_n_f32(0.f);
  }
#if defined(__aarch64__)
  for (int32_t k = 0; k < kc; ++k, ap += kNeonMR, bp += kNeonNR) {
    const neon::f4 a0 = vld1q_f32(ap), a1 = vld1q_f32(ap + 4);
    const neon::f4 b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8);
#define LNE_NEON_ROW(r, av, l)                        \
  c[r][0] = vfmaq_laneq_f32(c[r][0], b0, av, l);      \
  c[r][1] = vfmaq_laneq_f32(c[r][1], b1, av, l);      \
  c[r][2] = vfmaq_laneq_f32(c[r][2], b2, av, l);
    LNE_NEON_ROW(0, a0, 0) LNE_NEON_ROW(1, a0, 1) LNE_NEON_ROW(2, a0, 2) LNE_NEON_ROW(3, a0, 3)
    LNE_NEON_ROW(4, a1, 0) LNE_NEON_ROW(5, a1, 1) LNE_NEON_ROW(6, a1, 2) LNE_NEON_ROW(7, a1, 3)
#undef LNE_NEON_ROW
  }
#else
  for (int32_t k = 0; k < kc; ++k, ap += kNeonMR, bp += kNeonNR) {
    const neon::f4 a03 = vld1q_f32(ap);
    const float32x2_t alo = vget_low_f32(a03), ahi = vget_high_f32(a03), a45 = vld1_f32(ap + 4);
    const neon::f4 b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4);
#if defined(__ARM_FEATURE_FMA)
#define LNE_NEON_ROW(r, ad, l)                                   \
  c[r][0] = vfmaq_f32(c[r][0], b0, vdupq_lane_f32(ad, l));       \
  c[r][1] = vfmaq_f32(c[r][1], b1, vdupq_lane_f32(ad, l));
#else
#define LNE_NEON_ROW(r, ad, l)                     \
  c[r][0] = vmlaq_lane_f32(c[r][0], b0, ad, l);    \
  c[r][1] = vmlaq_lane_f32(c[r][1], b1, ad, l);
#endif
    LNE_NEON_ROW(0, alo, 0) LNE_NEON_ROW(1, alo, 1) LNE_NEON_ROW(2, ahi, 0)
    LNE_NEON_ROW(3, ahi, 1) LNE_NEON_ROW(4, a45, 0) LNE_NEON_ROW(5, a45, 1)
#undef LNE_NEON_ROW
  }
#endif
  if (mr == kNeonMR && nr == kNeonNR) {
    LNE_NEON_UNROLL
    for (int r = 0; r < kNeonMR; ++r) {
      float* cr = C + r * ldc;
      LNE_NEON_UNROLL
      for (int v = 0; v < NV; ++v) {
        const neon::f4 t = load_c ? vaddq_f32(c[r][v], vld1q_f32(cr + 4 * v)) : c[r][v];
        vst1q_f32(cr + 4 * v, t);
      }
    }
    return;
  }
  float tile[kNeonMR * kNeonNR];
  LNE_NEON_UNROLL
  for (int r = 0; r < kNeonMR; ++r) {
    LNE_NEON_UNROLL
    for (int v = 0; v < NV; ++v) vst1q_f32(tile + r * kNeonNR + 4 * v, c[r][v]);
  }
  for (int32_t r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* t = tile + r * kNeonNR;
    if (load_c) {
      for (int32_t j = 0; j < nr; ++j) cr[j] += t[j];
    } else {
      for (int32_t j = 0; j < nr; ++j) cr[j] = t[j];
    }
  }
}

// M <= 2: each row pair of C is accumulated in registers, 16 columns at a time, streaming B.
template <int R>
inline void neon_gemm_rows(int32_t N, int32_t K, const float* A, int64_t lda, const float* B,
                           int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  int32_t j = 0;
  for (; j + 16 <= N; j += 16) {
    neon::f4 c[R][4];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) c[r][v] = accumulate ? vld1q_f32(C + r * ldc + j + 4 * v) : vdupq_n_f32(0.f);
    const float* b = B + j;
    for (int32_t k = 0; k < K; ++k, b += ldb) {
      const neon::f4 b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
      for (int r = 0; r < R; ++r) {
        const float a = A[r * lda + k];
        c[r][0] = neon::fma_n(c[r][0], b0, a);
        c[r][1] = neon::fma_n(c[r][1], b1, a);
        c[r][2] = neon::fma_n(c[r][2], b2, a);
        c[r][3] = neon::fma_n(c[r][3], b3, a);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) vst1q_f32(C + r * ldc + j + 4 * v, c[r][v]);
  }
  for (; j + 4 <= N; j += 4) {
    neon::f4 c[R];
    for (int r = 0; r < R; ++r) c[r] = accumulate ? vld1q_f32(C + r * ldc + j) : vdupq_n_f32(0.f);
    for (int32_t k = 0; k < K; ++k) {
      const neon::f4 b0 = vld1q_f32(B + (int64_t)k * ldb + j);
      for (int r = 0; r < R; ++r) c[r] = neon::fma_n(c[r], b0, A[r * lda + k]);
    }
    for (int r = 0; r < R; ++r) vst1q_f32(C + r * ldc + j, c[r]);
  }
  for (; j < N; ++j) {
    for (int r = 0; r < R; ++r) {
      float s = accumulate ? C[r * ldc + j] : 0.f;
      for (int32_t k = 0; k < K; ++k) s += A[r * lda + k] * B[(int64_t)k * ldb + j];
      C[r * ldc + j] = s;
    }
  }
}

// N == 1: the B column is gathered into a stack chunk, then one NEON dot product per row.
inline void neon_gemm_n1(int32_t M, int32_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                         float* C, int64_t ldc, bool accumulate) {
  constexpr int32_t kChunk = 2048;
  float xb[kChunk];
  for (int32_t k0 = 0; k0 < K; k0 += kChunk) {
    const int32_t kc = std::min(kChunk, K - k0);
    for (int32_t k = 0; k < kc; ++k) xb[k] = B[(int64_t)(k0 + k) * ldb];
    const bool load_c = accumulate || k0 > 0;
    for (int32_t i = 0; i < M; ++i) {
      const float* a = A + i * lda + k0;
      neon::f4 s0 = vdupq_n_f32(0.f), s1 = s0;
      int32_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        s0 = neon::fma(s0, vld1q_f32(a + k), vld1q_f32(xb + k));
        s1 = neon::fma(s1, vld1q_f32(a + k + 4), vld1q_f32(xb + k + 4));
      }
      float part[4];
      vst1q_f32(part, vaddq_f32(s0, s1));
      float s = (part[0] + part[1]) + (part[2] + part[3]);
      for (; k < kc; ++k) s += a[k] * xb[k];
      float* c = C + i * ldc;
      *c = load_c ? *c + s : s;
    }
  }
}

}  // namespace detail

// Row-major C[M,N] (+)= A[M,K] * B[K,N], any M, N, K >= 1 (K == 0 writes zeros or leaves C
// unchanged when accumulating). A, B must not overlap C. Same contract as sgemm_f32_blocked.
inline void sgemm_f32_neon(int32_t M, int32_t N, int32_t K, const float* A, int32_t lda, const float* B,
                           int32_t ldb, float* C, int32_t ldc, bool accumulate) {
  using namespace detail;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int32_t i = 0; i < M; ++i)
        for (int32_t j = 0; j < N; ++j) C[(int64_t)i * ldc + j] = 0.f;
    return;
  }
  if (M <= 2) {
    if (M == 2) neon_gemm_rows<2>(N, K, A, lda, B, ldb, C, ldc, accumulate);
    else neon_gemm_rows<1>(N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  if (N == 1) {
    neon_gemm_n1(M, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  alignas(16) float bpack[kNeonPackB];
  alignas(16) float apack[kNeonMR * kNeonKC];
  // Balanced K blocks of at most kNeonKC, then the widest column blocks that fit the B buffer.
  const int32_t kblocks = (K + kNeonKC - 1) / kNeonKC;
  const int32_t kc_max = (K + kblocks - 1) / kblocks;
  const int32_t nc_fit = (kNeonPackB / kc_max) / kNeonNR * kNeonNR;
  const int32_t nblocks = (N + nc_fit - 1) / nc_fit;
  const int32_t nc_max = ((N + nblocks - 1) / nblocks + kNeonNR - 1) / kNeonNR * kNeonNR;
  for (int32_t jc = 0; jc < N; jc += nc_max) {
    const int32_t nc = std::min(nc_max, N - jc);
    for (int32_t pc = 0; pc < K; pc += kc_max) {
      const int32_t kc = std::min(kc_max, K - pc);
      neon_pack_b(kc, nc, B + (int64_t)pc * ldb + jc, ldb, bpack);
      const bool load_c = accumulate || pc > 0;
      for (int32_t ic = 0; ic < M; ic += kNeonMR) {
        const int32_t mr = std::min<int32_t>(kNeonMR, M - ic);
        neon_pack_a(mr, kc, A + (int64_t)ic * lda + pc, lda, apack);
        float* crow = C + (int64_t)ic * ldc + jc;
        for (int32_t jr = 0; jr < nc; jr += kNeonNR) {
          const int32_t nr = std::min<int32_t>(kNeonNR, nc - jr);
          neon_ukernel(kc, apack, bpack + (int64_t)(jr / kNeonNR) * kc * kNeonNR, crow + jr, ldc, mr, nr,
                       load_c);
        }
      }
    }
  }
}

// ONNX Gemm, precondition trans_a == 0 && trans_b == 0 (as gemm_f32_blocked): the product goes
// into y, then one epilogue pass applies alpha, the broadcast beta * c term and the activation.
inline void gemm_f32_neon(const GemmParams& p, const float* a, const float* b, const float* c, float* y) {
  const int32_t M = p.m, N = p.n;
  sgemm_f32_neon(M, N, p.k, a, p.k, b, N, y, N, false);
  const bool has_c = c != nullptr && p.beta != 0.f;
  for (int32_t i = 0; i < M; ++i) {
    float* yr = y + (int64_t)i * N;
    if (p.alpha != 1.f) neon::map_loop(N, yr, yr, neon::Affine{p.alpha, 0.f}, neon::Plain{}, neon::Plain{});
    if (has_c) {
      const float be = p.beta;
      const float* cr = c + (int64_t)(i % p.c_rows) * p.c_cols;
      if (p.c_cols == N) {
        int32_t j = 0;
        for (; j + 4 <= N; j += 4) vst1q_f32(yr + j, neon::fma_n(vld1q_f32(yr + j), vld1q_f32(cr + j), be));
        for (; j < N; ++j) yr[j] += be * cr[j];
      } else if (p.c_cols == 1) {
        neon::map_loop(N, yr, yr, neon::Affine{1.f, be * cr[0]}, neon::Plain{}, neon::Plain{});
      } else {
        for (int32_t j = 0; j < N; ++j) yr[j] += be * cr[j % p.c_cols];
      }
    }
    neon::act_inplace(p.act, N, yr);
  }
}

// Batched MatMul (MatMulParams as matmul_f32_blocked); a batch sharing B with contiguous A
// batches folds into M.
inline void matmul_f32_neon(const MatMulParams& p, const float* a, const float* b, float* y) {
  const int64_t mn = (int64_t)p.m * p.n;
  if (p.batch > 1 && p.b_batch_stride == 0 && p.a_batch_stride == (int64_t)p.m * p.k &&
      (int64_t)p.batch * p.m <= INT32_MAX) {
    sgemm_f32_neon(p.batch * p.m, p.n, p.k, a, p.k, b, p.n, y, p.n, false);
    return;
  }
  for (int32_t bi = 0; bi < p.batch; ++bi)
    sgemm_f32_neon(p.m, p.n, p.k, a + bi * p.a_batch_stride, p.k, b + bi * p.b_batch_stride, p.n, y + bi * mn,
                   p.n, false);
}

}  // namespace lne

#endif  // __ARM_NEON
