// Bindings: LRN kernel (runtime/kernels/lrn).
#include "bind_util.h"

#include "kernels/lrn/lrn_ref.h"

using namespace lne_bind;

void init_lrn(py::module_& m) {
  m.def("lrn_f32_ref",
        [](int32_t n, int32_t c, int64_t inner, int32_t size, float alpha, float beta, float bias,
           py::object x, py::object y) {
          check_pos(n, "n");
          check_pos(c, "c");
          check_pos(inner, "inner");
          check_pos(size, "size");
          const int64_t nx = prod({n, c, inner});
          const float* px = in_ptr(x, nx, "x");
          float* py_ = out_ptr(y, nx, "y");
          check_disjoint(px, nx, py_, nx, "x and y");
          py::gil_scoped_release nogil;
          lne::lrn_f32_ref(n, c, inner, size, alpha, beta, bias, px, py_);
        },
        py::arg("n"), py::arg("c"), py::arg("inner"), py::arg("size"), py::arg("alpha"),
        py::arg("beta"), py::arg("bias"), py::arg("x"), py::arg("y"),
        "(n, c, inner, size, alpha, beta, bias, x, y): ONNX LRN over channels of [n, c, inner];\n"
        "y must not overlap x.");
}
