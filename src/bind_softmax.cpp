// Bindings: softmax kernels (runtime/kernels/softmax).
#include "bind_util.h"

#include "kernels/softmax/softmax_ref.h"

using namespace lne_bind;

void init_softmax(py::module_& m) {
  m.def("softmax_f32_ref",
        [](int64_t outer, int64_t axis_len, int64_t inner, py::object x, py::object y,
           int32_t log_softmax) {
          check_nonneg(outer, "outer");
          check_pos(axis_len, "axis_len");
          check_pos(inner, "inner");
          const int64_t n = prod({outer, axis_len, inner});
          const float* px = in_ptr(x, n, "x");
          float* py_ = out_ptr(y, n, "y");
          check_same_or_disjoint(px, n, py_, n, "x and y");
          py::gil_scoped_release nogil;
          lne::softmax_f32_ref(outer, axis_len, inner, px, py_, log_softmax);
        },
        py::arg("outer"), py::arg("axis_len"), py::arg("inner"), py::arg("x"), py::arg("y"),
        py::arg("log_softmax") = 0,
        "(outer, axis_len, inner, x, y, log_softmax=0): softmax over the middle axis of\n"
        "[outer, axis_len, inner]; y may be x (in place).");
}
