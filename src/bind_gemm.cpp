// Bindings: GEMM / MatMul kernels (runtime/kernels/gemm).
#include "bind_util.h"

#include "kernels/gemm/gemm_blocked.h"
#include "kernels/gemm/gemm_ref.h"

using namespace lne_bind;

namespace {

using SgemmFn = void (*)(int32_t, int32_t, int32_t, const float*, int32_t, const float*, int32_t,
                         float*, int32_t, bool);

void call_sgemm(SgemmFn fn, int32_t M, int32_t N, int32_t K, const py::handle& A, int32_t lda,
                const py::handle& B, int32_t ldb, const py::handle& C, int32_t ldc,
                bool accumulate) {
  check_pos(M, "M");
  check_pos(N, "N");
  check_pos(K, "K");
  if (lda < K) fail("lda must be >= K");
  if (ldb < N) fail("ldb must be >= N");
  if (ldc < N) fail("ldc must be >= N");
  const int64_t na = (int64_t)(M - 1) * lda + K, nb = (int64_t)(K - 1) * ldb + N,
                nc = (int64_t)(M - 1) * ldc + N;
  int64_t sa, sb, sc;
  const float* a = in_ptr(A, na, "A", false, &sa);
  const float* b = in_ptr(B, nb, "B", false, &sb);
  float* c = out_ptr(C, nc, "C", false);
  sc = (int64_t)py::reinterpret_borrow<py::array>(C).size();
  check_disjoint(a, sa, c, sc, "A and C");
  check_disjoint(b, sb, c, sc, "B and C");
  py::gil_scoped_release nogil;
  fn(M, N, K, a, lda, b, ldb, c, ldc, accumulate);
}

lne::GemmParams parse_gemm(const py::dict& d, bool has_c) {
  lne::GemmParams p{};
  p.m = get_i32(d, "m");
  p.n = get_i32(d, "n");
  p.k = get_i32(d, "k");
  p.trans_a = get_i32(d, "trans_a", 0);
  p.trans_b = get_i32(d, "trans_b", 0);
  p.alpha = get_f32(d, "alpha", 1.f);
  p.beta = get_f32(d, "beta", 1.f);
  p.c_rows = get_i32(d, "c_rows", 1);
  p.c_cols = get_i32(d, "c_cols", 1);
  p.act = dict_act(d);
  check_pos(p.m, "m");
  check_pos(p.n, "n");
  check_pos(p.k, "k");
  if (has_c) {
    check_pos(p.c_rows, "c_rows");
    check_pos(p.c_cols, "c_cols");
  }
  return p;
}

template <void (*Fn)(const lne::GemmParams&, const float*, const float*, const float*, float*)>
void call_gemm(const py::dict& d, const py::handle& a, const py::handle& b, const py::handle& c,
               const py::handle& y, bool blocked) {
  const lne::GemmParams p = parse_gemm(d, !c.is_none());
  if (blocked && (p.trans_a || p.trans_b))
    fail("gemm_f32_blocked requires trans_a == 0 and trans_b == 0");
  const int64_t mk = prod({p.m, p.k}), kn = prod({p.k, p.n}), mn = prod({p.m, p.n});
  const float* pa = in_ptr(a, mk, "a");
  const float* pb = in_ptr(b, kn, "b");
  const float* pc = c.is_none() ? nullptr : in_ptr(c, prod({p.c_rows, p.c_cols}), "c");
  float* py_ = out_ptr(y, mn, "y");
  check_disjoint(pa, mk, py_, mn, "a and y");
  check_disjoint(pb, kn, py_, mn, "b and y");
  if (pc) check_disjoint(pc, (int64_t)p.c_rows * p.c_cols, py_, mn, "c and y");
  py::gil_scoped_release nogil;
  Fn(p, pa, pb, pc, py_);
}

template <void (*Fn)(const lne::MatMulParams&, const float*, const float*, float*)>
void call_matmul(const py::dict& d, const py::handle& a, const py::handle& b, const py::handle& y) {
  lne::MatMulParams p{};
  p.batch = get_i32(d, "batch");
  p.m = get_i32(d, "m");
  p.n = get_i32(d, "n");
  p.k = get_i32(d, "k");
  p.a_batch_stride = get_i64(d, "a_batch_stride");
  p.b_batch_stride = get_i64(d, "b_batch_stride");
  check_pos(p.batch, "batch");
  check_pos(p.m, "m");
  check_pos(p.n, "n");
  check_pos(p.k, "k");
  check_nonneg(p.a_batch_stride, "a_batch_stride");
  check_nonneg(p.b_batch_stride, "b_batch_stride");
  const int64_t na = (int64_t)(p.batch - 1) * p.a_batch_stride + prod({p.m, p.k});
  const int64_t nb = (int64_t)(p.batch - 1) * p.b_batch_stride + prod({p.k, p.n});
  const int64_t ny = prod({p.batch, p.m, p.n});
  int64_t sa, sb;
  const float* pa = in_ptr(a, na, "a", false, &sa);
  const float* pb = in_ptr(b, nb, "b", false, &sb);
  float* py_ = out_ptr(y, ny, "y");
  check_disjoint(pa, sa, py_, ny, "a and y");
  check_disjoint(pb, sb, py_, ny, "b and y");
  py::gil_scoped_release nogil;
  Fn(p, pa, pb, py_);
}

}  // namespace

void init_gemm(py::module_& m) {
  const char* sgemm_doc =
      "(M, N, K, A, lda, B, ldb, C, ldc, accumulate=False)\n"
      "Row-major C[M,N] (+)= A[M,K] * B[K,N] with leading dimensions (elements). A, B, C are\n"
      "float32 C-contiguous arrays holding at least (rows-1)*ld + cols elements; C is written\n"
      "in place and must not overlap A or B.";
  m.def("sgemm_f32_ref",
        [](int32_t M, int32_t N, int32_t K, py::object A, int32_t lda, py::object B, int32_t ldb,
           py::object C, int32_t ldc, bool acc) {
          call_sgemm(&lne::sgemm_f32_ref, M, N, K, A, lda, B, ldb, C, ldc, acc);
        },
        py::arg("M"), py::arg("N"), py::arg("K"), py::arg("A"), py::arg("lda"), py::arg("B"),
        py::arg("ldb"), py::arg("C"), py::arg("ldc"), py::arg("accumulate") = false, sgemm_doc);
  m.def("sgemm_f32_blocked",
        [](int32_t M, int32_t N, int32_t K, py::object A, int32_t lda, py::object B, int32_t ldb,
           py::object C, int32_t ldc, bool acc) {
          call_sgemm(&lne::sgemm_f32_blocked, M, N, K, A, lda, B, ldb, C, ldc, acc);
        },
        py::arg("M"), py::arg("N"), py::arg("K"), py::arg("A"), py::arg("lda"), py::arg("B"),
        py::arg("ldb"), py::arg("C"), py::arg("ldc"), py::arg("accumulate") = false, sgemm_doc);

  const char* gemm_doc =
      "(p, a, b, c, y)\n"
      "ONNX Gemm: y[i,j] = act(alpha * (A' B')[i,j] + beta * c[(i % c_rows) * c_cols + j % c_cols]).\n"
      "p: dict(m, n, k, trans_a=0, trans_b=0, alpha=1.0, beta=1.0, c_rows=1, c_cols=1, act=None).\n"
      "a: m*k elements ([k,m] if trans_a), b: k*n ([n,k] if trans_b), c: c_rows*c_cols or None,\n"
      "y: m*n (written).";
  m.def("gemm_f32_ref",
        [](py::dict p, py::object a, py::object b, py::object c, py::object y) {
          call_gemm<&lne::gemm_f32_ref>(p, a, b, c, y, false);
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("c"), py::arg("y"), gemm_doc);
  m.def("gemm_f32_blocked",
        [](py::dict p, py::object a, py::object b, py::object c, py::object y) {
          call_gemm<&lne::gemm_f32_blocked>(p, a, b, c, y, true);
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("c"), py::arg("y"),
        "(p, a, b, c, y)\n"
        "Same as gemm_f32_ref; precondition trans_a == trans_b == 0 (else ValueError).");

  const char* mm_doc =
      "(p, a, b, y)\n"
      "Batched MatMul: y[bi] = a[bi*a_batch_stride : +m*k] (m x k) @ b[bi*b_batch_stride : +k*n].\n"
      "p: dict(batch, m, n, k, a_batch_stride, b_batch_stride); strides in elements, 0 = broadcast.\n"
      "y: batch*m*n elements (written).";
  m.def("matmul_f32_ref",
        [](py::dict p, py::object a, py::object b, py::object y) {
          call_matmul<&lne::matmul_f32_ref>(p, a, b, y);
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("y"), mm_doc);
  m.def("matmul_f32_blocked",
        [](py::dict p, py::object a, py::object b, py::object y) {
          call_matmul<&lne::matmul_f32_blocked>(p, a, b, y);
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("y"), mm_doc);
}
