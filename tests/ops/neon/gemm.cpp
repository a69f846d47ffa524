// sgemm / gemm / matmul: NEON kernels (gemm/gemm_neon.h) against the _ref kernels.
#include <cstring>

#include "check.h"
#include "kernels/gemm/gemm_neon.h"
#include "kernels/gemm/gemm_ref.h"

using check::Report;
using check::Rng;

// C (ldc >= N, pre-filled for accumulate) = [C +] A[M,K] * B[K,N] with padded leading dims.
static void sgemm_case(Report& rep, Rng& rng, int M, int N, int K, int pad, bool acc) {
  const int lda = K + pad, ldb = N + pad, ldc = N + pad;
  auto A = rng.vec((size_t)M * lda), B = rng.vec((size_t)K * ldb), C0 = rng.vec((size_t)M * ldc);
  auto got = C0, want = C0;
  lne::sgemm_f32_neon(M, N, K, A.data(), lda, B.data(), ldb, got.data(), ldc, acc);
  lne::sgemm_f32_ref(M, N, K, A.data(), lda, B.data(), ldb, want.data(), ldc, acc);
  char what[96];
  std::snprintf(what, sizeof what, "sgemm M=%d N=%d K=%d pad=%d acc=%d", M, N, K, pad, (int)acc);
  rep.compare(what, got.data(), want.data(), got.size());  // padding columns must stay untouched
}

int main() {
  Report rep;
  Rng rng;
  const int Ms[] = {1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17};
  const int Ns[] = {1, 2, 3, 4, 5, 8, 11, 12, 13, 16, 17, 25, 37};
  const int Ks[] = {1, 2, 3, 7, 16, 33};
  for (int M : Ms)
    for (int N : Ns)
      for (int K : Ks) sgemm_case(rep, rng, M, N, K, (M + N + K) % 3, (M + N) % 2 == 1);
  // several K blocks (kc <= 256), several column blocks (kc * nc <= 12288), K == 0
  sgemm_case(rep, rng, 19, 70, 600, 1, false);
  sgemm_case(rep, rng, 9, 300, 200, 0, true);
  sgemm_case(rep, rng, 2, 1030, 20, 3, false);  // GEMV path, long rows
  sgemm_case(rep, rng, 11, 1, 2100, 0, true);   // N == 1 path, several gather chunks
  sgemm_case(rep, rng, 4, 5, 0, 0, false);
  sgemm_case(rep, rng, 4, 5, 0, 1, true);

  // ONNX Gemm (trans_a == trans_b == 0): alpha, beta, every broadcast of c, activations.
  const int cshapes[][2] = {{0, 0}, {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
  int ai = 0;
  for (int M : {1, 3, 10})
    for (int N : {1, 7, 16, 29})
      for (auto cs : cshapes)
        for (const lne::Act& act : check::all_acts()) {
          const int K = 5 + M;
          lne::GemmParams p{};
          p.m = M, p.n = N, p.k = K, p.trans_a = 0, p.trans_b = 0;
          p.alpha = (ai % 3 == 0) ? 1.f : 0.75f;
          p.beta = (ai % 4 == 1) ? 0.f : -1.25f;
          p.c_rows = cs[0] < 0 ? M : 1, p.c_cols = cs[1] < 0 ? N : 1;
          p.act = act;
          ++ai;
          auto a = rng.vec((size_t)M * K), b = rng.vec((size_t)K * N), c = rng.vec((size_t)p.c_rows * p.c_cols);
          std::vector<float> got((size_t)M * N), want((size_t)M * N);
          const float* cp = cs[0] == 0 ? nullptr : c.data();
          lne::gemm_f32_neon(p, a.data(), b.data(), cp, got.data());
          lne::gemm_f32_ref(p, a.data(), b.data(), cp, want.data());
          char what[96];
          std::snprintf(what, sizeof what, "gemm M=%d N=%d c=%dx%d act=%d", M, N, p.c_rows, p.c_cols, act.kind);
          rep.compare(what, got.data(), want.data(), got.size());
        }

  // MatMul: batch folded into M (shared B), per-batch B, broadcast A.
  const int64_t strides[][2] = {{1, 0}, {1, 1}, {0, 1}};
  for (auto st : strides)
    for (int M : {1, 4, 9})
      for (int N : {3, 13}) {
        const int batch = 3, K = 6;
        lne::MatMulParams p{batch, M, N, K, st[0] * M * K, st[1] * K * N};
        auto a = rng.vec((size_t)(st[0] ? batch : 1) * M * K), b = rng.vec((size_t)(st[1] ? batch : 1) * K * N);
        std::vector<float> got((size_t)batch * M * N), want(got.size());
        lne::matmul_f32_neon(p, a.data(), b.data(), got.data());
        lne::matmul_f32_ref(p, a.data(), b.data(), want.data());
        char what[96];
        std::snprintf(what, sizeof what, "matmul M=%d N=%d sa=%lld sb=%lld", M, N, (long long)st[0], (long long)st[1]);
        rep.compare(what, got.data(), want.data(), got.size());
      }
  return rep.finish("gemm");
}
