// LNE runtime: reference (naive, obviously-correct) GEMM / MatMul kernels.
#pragma once
#include "lne/common.h"

namespace lne {

// Row-major C[M,N] (+)= A[M,K] * B[K,N] with leading dimensions lda/ldb/ldc (in elements).
inline void sgemm_f32_ref(int32_t M, int32_t N, int32_t K, const float* A, int32_t lda,
                          const float* B, int32_t ldb, float* C, int32_t ldc, bool accumulate) {
  for (int32_t i = 0; i < M; ++i) {
    float* c = C + (int64_t)i * ldc;
    if (!accumulate)
      for (int32_t j = 0; j < N; ++j) c[j] = 0.f;
    for (int32_t k = 0; k < K; ++k) {
      const float a = A[(int64_t)i * lda + k];
      const float* b = B + (int64_t)k * ldb;
      for (int32_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

// ONNX Gemm parameters. A is [m,k] (or [k,m] if trans_a), B is [k,n] (or [n,k] if trans_b).
// c (optional) is a [c_rows, c_cols] tensor broadcast to [m, n].
struct GemmParams {
  int32_t m, n, k;
  int32_t trans_a, trans_b;
  float alpha, beta;
  int32_t c_rows, c_cols;
  Act act;
};

// y[i,j] = act(alpha * sum_k A'[i,k] B'[k,j] + beta * c[(i % c_rows) * c_cols + (j % c_cols)])
inline void gemm_f32_ref(const GemmParams& p, const float* a, const float* b, const float* c,
                         float* y) {
  for (int32_t i = 0; i < p.m; ++i) {
    for (int32_t j = 0; j < p.n; ++j) {
      float s = 0.f;
      for (int32_t kk = 0; kk < p.k; ++kk) {
        const float av = p.trans_a ? a[(int64_t)kk * p.m + i] : a[(int64_t)i * p.k + kk];
        const float bv = p.trans_b ? b[(int64_t)j * p.k + kk] : b[(int64_t)kk * p.n + j];
        s += av * bv;
      }
      float v = p.alpha * s;
      if (c) v += p.beta * c[(int64_t)(i % p.c_rows) * p.c_cols + (j % p.c_cols)];
      y[(int64_t)i * p.n + j] = apply_act(p.act, v);
    }
  }
}

// Batched MatMul: y[b] = A[b] (m x k) * B[b] (k x n); batch strides in elements, 0 = broadcast.
struct MatMulParams {
  int32_t batch, m, n, k;
  int64_t a_batch_stride, b_batch_stride;
};

inline void matmul_f32_ref(const MatMulParams& p, const float* a, const float* b, float* y) {
  for (int32_t bi = 0; bi < p.batch; ++bi) {
    sgemm_f32_ref(p.m, p.n, p.k, a + bi * p.a_batch_stride, p.k, b + bi * p.b_batch_stride, p.n,
                  y + (int64_t)bi * p.m * p.n, p.n, false);
  }
}

}  // namespace lne
