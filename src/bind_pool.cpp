// Bindings: pooling kernels (runtime/kernels/pool).
#include "bind_util.h"

#include "kernels/pool/pool_fast.h"
#include "kernels/pool/pool_ref.h"
#include "kernels/pool/pool_nchwc.h"

using namespace lne_bind;

namespace {

lne::PoolParams parse_pool(const py::dict& d) {
  lne::PoolParams p{};
  p.n = get_i32(d, "n");
  p.c = get_i32(d, "c");
  p.h = get_i32(d, "h");
  p.w = get_i32(d, "w");
  p.oh = get_i32(d, "oh");
  p.ow = get_i32(d, "ow");
  p.kh = get_i32(d, "kh");
  p.kw = get_i32(d, "kw");
  p.sh = get_i32(d, "sh", 1);
  p.sw = get_i32(d, "sw", 1);
  p.dh = get_i32(d, "dh", 1);
  p.dw = get_i32(d, "dw", 1);
  p.pt = get_i32(d, "pt", 0);
  p.pl = get_i32(d, "pl", 0);
  p.pb = get_i32(d, "pb", 0);
  p.pr = get_i32(d, "pr", 0);
  p.count_include_pad = get_i32(d, "count_include_pad", 0);
  const char* names[] = {"n", "c", "h", "w", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw"};
  const int32_t vals[] = {p.n, p.c, p.h, p.w, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw};
  for (int i = 0; i < 12; ++i) check_pos(vals[i], names[i]);
  return p;
}

template <void (*Fn)(const lne::PoolParams&, const float*, float*)>
void call_pool(const py::dict& d, const py::handle& x, const py::handle& y) {
  const lne::PoolParams p = parse_pool(d);
  const int64_t nx = prod({p.n, p.c, p.h, p.w}), ny = prod({p.n, p.c, p.oh, p.ow});
  const float* px = in_ptr(x, nx, "x");
  float* py_ = out_ptr(y, ny, "y");
  check_disjoint(px, nx, py_, ny, "x and y");
  py::gil_scoped_release nogil;
  Fn(p, px, py_);
}

template <void (*Fn)(int64_t, int64_t, const float*, float*)>
void call_global(int64_t nc, int64_t hw, const py::handle& x, const py::handle& y) {
  check_pos(nc, "nc");
  check_pos(hw, "hw");
  const int64_t nx = prod({nc, hw});
  const float* px = in_ptr(x, nx, "x");
  float* py_ = out_ptr(y, nc, "y");
  check_disjoint(px, nx, py_, nc, "x and y");
  py::gil_scoped_release nogil;
  Fn(nc, hw, px, py_);
}

}  // namespace

void init_pool(py::module_& m) {
  const char* doc_max =
      "(p, x, y)\n"
      "MaxPool. p: dict(n, c, h, w, oh, ow, kh, kw, sh=1, sw=1, dh=1, dw=1, pt=0, pl=0, pb=0,\n"
      "pr=0, count_include_pad=0). x: n*c*h*w, y: n*c*oh*ow (written). Padding is ignored.";
  const char* doc_avg =
      "(p, x, y)\n"
      "AveragePool (ONNX semantics), p as for maxpool2d_f32_ref. count_include_pad=0: divide by\n"
      "the taps inside the image; =1: by the taps inside [-pt, h+pb) x [-pl, w+pr).";
  m.def("maxpool2d_f32_ref",
        [](py::dict d, py::object x, py::object y) { call_pool<&lne::maxpool2d_f32_ref>(d, x, y); },
        py::arg("p"), py::arg("x"), py::arg("y"), doc_max);
  m.def("avgpool2d_f32_ref",
        [](py::dict d, py::object x, py::object y) { call_pool<&lne::avgpool2d_f32_ref>(d, x, y); },
        py::arg("p"), py::arg("x"), py::arg("y"), doc_avg);
  m.def("global_avgpool_f32_ref",
        [](int64_t nc, int64_t hw, py::object x, py::object y) {
          call_global<&lne::global_avgpool_f32_ref>(nc, hw, x, y);
        },
        py::arg("nc"), py::arg("hw"), py::arg("x"), py::arg("y"),
        "(nc, hw, x, y): y[i] = mean(x[i, :hw]); x: nc*hw, y: nc.");
  m.def("global_maxpool_f32_ref",
        [](int64_t nc, int64_t hw, py::object x, py::object y) {
          call_global<&lne::global_maxpool_f32_ref>(nc, hw, x, y);
        },
        py::arg("nc"), py::arg("hw"), py::arg("x"), py::arg("y"),
        "(nc, hw, x, y): y[i] = max(x[i, :hw]); x: nc*hw, y: nc.");
  m.def("maxpool2d_f32_fast",
        [](py::dict d, py::object x, py::object y) { call_pool<&lne::maxpool2d_f32_fast>(d, x, y); },
        py::arg("p"), py::arg("x"), py::arg("y"),
        "(p, x, y): as maxpool2d_f32_ref; vectorised for 2x2 / 3x3, stride 1 / 2, dilation 1.");
  m.def("avgpool2d_f32_fast",
        [](py::dict d, py::object x, py::object y) { call_pool<&lne::avgpool2d_f32_fast>(d, x, y); },
        py::arg("p"), py::arg("x"), py::arg("y"),
        "(p, x, y): as avgpool2d_f32_ref; vectorised for 2x2 / 3x3, stride 1 / 2, dilation 1 and\n"
        "for a window over the whole unpadded plane.");
  m.def("global_avgpool_f32_nchw8c",
        [](int64_t n, int64_t c, int64_t hw, py::object x, py::object y) {
          check_pos(n, "n");
          check_pos(c, "c");
          check_pos(hw, "hw");
          const int64_t nx = prod({n, (c + 7) / 8 * 8, hw});
          const float* px = in_ptr(x, nx, "x");
          float* py_ = out_ptr(y, n * c, "y");
          check_disjoint(px, nx, py_, n * c, "x and y");
          py::gil_scoped_release nogil;
          lne::global_avgpool_f32_nchw8c(n, c, hw, px, py_);
        },
        py::arg("n"), py::arg("c"), py::arg("hw"), py::arg("x"), py::arg("y"),
        "(n, c, hw, x, y): global average of NCHW8c x (n*ceil8(c)*hw floats) into y[n*c].");
  m.def("global_avgpool_f32_fast",
        [](int64_t nc, int64_t hw, py::object x, py::object y) {
          call_global<&lne::global_avgpool_f32_fast>(nc, hw, x, y);
        },
        py::arg("nc"), py::arg("hw"), py::arg("x"), py::arg("y"),
        "(nc, hw, x, y): as global_avgpool_f32_ref, eight-lane accumulators.");
}
