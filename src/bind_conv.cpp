// Bindings: 2-D convolution kernels (runtime/kernels/conv).
#include "bind_util.h"

#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/conv/conv_ref.h"

using namespace lne_bind;

namespace {

lne::ConvParams parse_conv(const py::dict& d) {
  lne::ConvParams p{};
  p.n = get_i32(d, "n");
  p.c = get_i32(d, "c");
  p.h = get_i32(d, "h");
  p.w = get_i32(d, "w");
  p.m = get_i32(d, "m");
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
  p.group = get_i32(d, "group", 1);
  p.act = dict_act(d);
  const char* names[] = {"n", "c", "h", "w", "m", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw", "group"};
  const int32_t vals[] = {p.n, p.c, p.h, p.w, p.m, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.group};
  for (int i = 0; i < 14; ++i) check_pos(vals[i], names[i]);
  if (p.c % p.group != 0 || p.m % p.group != 0) fail("c and m must be multiples of group");
  // int32 products used inside the kernels
  if (prod({p.c / p.group, p.kh, p.kw}) > INT32_MAX || prod({p.oh, p.ow}) > INT32_MAX)
    fail("conv too large for int32 GEMM dimensions");
  return p;
}

struct ConvArgs {
  const float *x, *w, *bias;
  float* y;
};

ConvArgs conv_args(const lne::ConvParams& p, const py::handle& x, const py::handle& w,
                   const py::handle& bias, const py::handle& y) {
  ConvArgs a{};
  const int64_t nx = prod({p.n, p.c, p.h, p.w}), nw = prod({p.m, p.c / p.group, p.kh, p.kw}),
                ny = prod({p.n, p.m, p.oh, p.ow});
  a.x = in_ptr(x, nx, "x");
  a.w = in_ptr(w, nw, "w");
  a.bias = in_ptr_opt(bias, p.m, "bias");
  a.y = out_ptr(y, ny, "y");
  check_disjoint(a.x, nx, a.y, ny, "x and y");
  check_disjoint(a.w, nw, a.y, ny, "w and y");
  check_disjoint(a.bias, p.m, a.y, ny, "bias and y");
  return a;
}

}  // namespace

void init_conv(py::module_& m) {
  m.def("conv2d_f32_ref",
        [](py::dict d, py::object x, py::object w, py::object bias, py::object y) {
          const lne::ConvParams p = parse_conv(d);
          ConvArgs a = conv_args(p, x, w, bias, y);
          py::gil_scoped_release nogil;
          lne::conv2d_f32_ref(p, a.x, a.w, a.bias, a.y);
        },
        py::arg("p"), py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("y"),
        "(p, x, w, bias, y)\n"
        "Direct NCHW conv. p: dict(n, c, h, w, m, oh, ow, kh, kw, sh=1, sw=1, dh=1, dw=1, pt=0,\n"
        "pl=0, group=1, act=None). x: n*c*h*w, w: m*(c/group)*kh*kw, bias: m or None,\n"
        "y: n*m*oh*ow (written).");
  m.def("conv2d_f32_im2col_scratch",
        [](py::dict d) { return (int64_t)lne::conv2d_f32_im2col_scratch(parse_conv(d)); },
        py::arg("p"),
        "(p) -> int: scratch floats needed by conv2d_f32_im2col (0 for pointwise convs).");
  m.def("conv2d_f32_im2col",
        [](py::dict d, py::object x, py::object w, py::object bias, py::object y,
           py::object scratch) {
          const lne::ConvParams p = parse_conv(d);
          ConvArgs a = conv_args(p, x, w, bias, y);
          const int64_t ns = (int64_t)lne::conv2d_f32_im2col_scratch(p);
          float* s = nullptr;
          if (ns > 0 || !scratch.is_none()) {
            if (scratch.is_none()) fail("scratch: required (" + std::to_string(ns) + " floats)");
            s = out_ptr(scratch, ns, "scratch", false);
            const int64_t ss = (int64_t)py::reinterpret_borrow<py::array>(scratch).size();
            check_disjoint(s, ss, a.x, prod({p.n, p.c, p.h, p.w}), "scratch and x");
            check_disjoint(s, ss, a.y, prod({p.n, p.m, p.oh, p.ow}), "scratch and y");
          }
          py::gil_scoped_release nogil;
          lne::conv2d_f32_im2col(p, a.x, a.w, a.bias, a.y, s);
        },
        py::arg("p"), py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("y"),
        py::arg("scratch"),
        "(p, x, w, bias, y, scratch)\n"
        "im2col + blocked SGEMM conv; params/arrays as conv2d_f32_ref. scratch: float32 array of\n"
        "at least conv2d_f32_im2col_scratch(p) elements (None allowed when that is 0).");
  m.def("conv2d_f32_depthwise",
        [](py::dict d, py::object x, py::object w, py::object bias, py::object y) {
          const lne::ConvParams p = parse_conv(d);
          if (!(p.group == p.c && p.c == p.m)) fail("conv2d_f32_depthwise requires group == c == m");
          ConvArgs a = conv_args(p, x, w, bias, y);
          py::gil_scoped_release nogil;
          lne::conv2d_f32_depthwise(p, a.x, a.w, a.bias, a.y);
        },
        py::arg("p"), py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("y"),
        "(p, x, w, bias, y)\n"
        "Direct depthwise conv; params/arrays as conv2d_f32_ref; precondition group == c == m.");
}
