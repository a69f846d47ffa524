// Bindings: 2-D convolution kernels (runtime/kernels/conv).
#include "bind_util.h"

#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_im2col.h"
#include "kernels/conv/conv_nchwc.h"
#include "kernels/conv/conv_ref.h"
#include "kernels/conv/conv_winograd.h"

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

float* scratch_arg(const py::handle& scratch, int64_t need, const ConvArgs& a,
                   const lne::ConvParams& p) {
  if (need == 0 && scratch.is_none()) return nullptr;
  if (scratch.is_none()) fail("scratch: required (" + std::to_string(need) + " floats)");
  float* s = out_ptr(scratch, need, "scratch", false);
  const int64_t ss = (int64_t)py::reinterpret_borrow<py::array>(scratch).size();
  check_disjoint(s, ss, a.x, prod({p.n, p.c, p.h, p.w}), "scratch and x");
  check_disjoint(s, ss, a.y, prod({p.n, p.m, p.oh, p.ow}), "scratch and y");
  return s;
}

int check_mt(int mt) {
  if (mt != 2 && mt != 4) fail("mt must be 2 or 4");
  return mt;
}

int check_mt_r(int mt, int r) {
  check_mt(mt);
  if (!((r == 3) || (r == 5 && mt == 2))) fail("(mt, r) must be (2, 3), (4, 3) or (2, 5)");
  return r;
}

// Winograd conv F(mt x mt, r x r): wt is the transformed weight array instead of w.
void winograd_call(int mt, int r, py::dict d, py::object x, py::object wt, py::object bias,
                   py::object y, py::object scratch) {
  const lne::ConvParams p = parse_conv(d);
  if (!lne::winograd_f32_applies(p) || p.kh != r)
    fail("winograd: needs a " + std::to_string(r) + "x" + std::to_string(r) +
         ", stride 1, dilation 1 conv");
  ConvArgs a{};
  const int64_t nx = prod({p.n, p.c, p.h, p.w}), ny = prod({p.n, p.m, p.oh, p.ow});
  const int64_t nw = (int64_t)lne::winograd_f32_weights_size(p.m, p.c / p.group, mt, r, p.group);
  a.x = in_ptr(x, nx, "x");
  a.w = in_ptr(wt, nw, "wt");
  a.bias = in_ptr_opt(bias, p.m, "bias");
  a.y = out_ptr(y, ny, "y");
  check_disjoint(a.x, nx, a.y, ny, "x and y");
  check_disjoint(a.w, nw, a.y, ny, "wt and y");
  check_disjoint(a.bias, p.m, a.y, ny, "bias and y");
  float* s = scratch_arg(scratch, (int64_t)lne::winograd_f32_scratch(p, mt), a, p);
  py::gil_scoped_release nogil;
  if (r == 5) lne::conv2d_f32_winograd_f25(p, a.x, a.w, a.bias, a.y, s);
  else if (mt == 2) lne::conv2d_f32_winograd_f23(p, a.x, a.w, a.bias, a.y, s);
  else lne::conv2d_f32_winograd_f43(p, a.x, a.w, a.bias, a.y, s);
}

// NCHW8c convs: x / y hold the blocked bytes (same element counts as NCHW), wp packed weights.
void nchwc_call(const char* fn, py::dict d, py::object x, py::object wp, py::object bias, py::object y,
                py::object scratch) {
  const lne::ConvParams p = parse_conv(d);
  const std::string name = fn;
  const bool dw = name == "conv2d_f32_depthwise_nchw8c", pw = name == "conv2d_f32_pointwise_nchw8c";
  if (dw && !lne::conv2d_nchwc_depthwise_applies(p)) fail(name + ": needs a 1x1/3x3/5x5 depthwise conv, stride 1/2");
  if (pw && !lne::conv2d_nchwc_pointwise_applies(p)) fail(name + ": needs a 1x1 / stride 1 / unpadded conv");
  if (!dw && !pw && p.group != 1) fail(name + ": needs group 1");
  ConvArgs a{};
  const int64_t cp = lne::nchwc_pad(p.c), mp = lne::nchwc_pad(p.m);
  const int64_t nx = prod({p.n, dw || pw ? cp : p.c, p.h, p.w}), ny = prod({p.n, mp, p.oh, p.ow});
  const int64_t nw = dw ? prod({cp, p.kh, p.kw}) : lne::conv2d_nchwc_gemm_weights_size(p, pw);
  const int64_t nb = dw ? cp : p.m;
  a.x = in_ptr(x, nx, "x");
  a.w = in_ptr(wp, nw, "wp");
  a.bias = in_ptr_opt(bias, nb, "bias");
  a.y = out_ptr(y, ny, "y");
  check_disjoint(a.x, nx, a.y, ny, "x and y");
  check_disjoint(a.w, nw, a.y, ny, "wp and y");
  check_disjoint(a.bias, nb, a.y, ny, "bias and y");
  float* s = (dw || pw) ? nullptr : scratch_arg(scratch, (int64_t)lne::conv2d_f32_im2col_scratch(p), a, p);
  py::gil_scoped_release nogil;
  if (dw) lne::conv2d_f32_depthwise_nchw8c(p, a.x, a.w, a.bias, a.y);
  else if (pw) lne::conv2d_f32_pointwise_nchw8c(p, a.x, a.w, a.bias, a.y);
  else lne::conv2d_f32_im2col_nchw8c(p, a.x, a.w, a.bias, a.y, s);
}

}  // namespace

void init_conv(py::module_& m) {
  for (const char* fn : {"conv2d_f32_pointwise_nchw8c", "conv2d_f32_depthwise_nchw8c"}) {
    m.def(fn,
          [fn](py::dict d, py::object x, py::object wp, py::object bias, py::object y) {
            nchwc_call(fn, d, x, wp, bias, y, py::none());
          },
          py::arg("p"), py::arg("x"), py::arg("wp"), py::arg("bias"), py::arg("y"),
          "(p, x, wp, bias, y): conv on NCHW8c x / y (lne.kernels.nchwc.to_blocked bytes), weights\n"
          "packed by lne.kernels.nchwc.pack_gemm / pack_depthwise; params as conv2d_f32_ref.");
  }
  m.def("conv2d_f32_im2col_nchw8c",
        [](py::dict d, py::object x, py::object wp, py::object bias, py::object y, py::object scratch) {
          nchwc_call("conv2d_f32_im2col_nchw8c", d, x, wp, bias, y, scratch);
        },
        py::arg("p"), py::arg("x"), py::arg("wp"), py::arg("bias"), py::arg("y"), py::arg("scratch"),
        "(p, x, wp, bias, y, scratch): group-1 conv, NCHW x -> NCHW8c y, wp = pack_gemm(w),\n"
        "scratch of conv2d_f32_im2col_scratch(p) floats (None when 0).");
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
  m.def("winograd_f32_weights_size",
        [](int64_t m_, int64_t c, int mt, int r, int64_t group) {
          check_pos(m_, "m");
          check_pos(c, "c");
          check_pos(group, "group");
          check_mt_r(mt, r);
          if (m_ % group) fail("m must be a multiple of group");
          return (int64_t)lne::winograd_f32_weights_size(to_i32(m_, "m"), to_i32(c, "c"), mt, r,
                                                         to_i32(group, "group"));
        },
        py::arg("m"), py::arg("c"), py::arg("mt"), py::arg("r") = 3, py::arg("group") = 1,
        "(m, c, mt, r=3, group=1) -> int: floats of the F(mt x mt, r x r) transformed, packed\n"
        "weights (c: input channels per group).");
  m.def("winograd_f32_scratch",
        [](py::dict d, int mt) { return (int64_t)lne::winograd_f32_scratch(parse_conv(d), check_mt(mt)); },
        py::arg("p"), py::arg("mt"),
        "(p, mt) -> int: scratch floats of the F(mt x mt, kh x kh) conv conv2d_f32_winograd_f{mt}{kh}.");
  m.def("winograd_f32_transform_weights",
        [](int mt, int r, int64_t m_, int64_t c, py::object w, py::object wt, int64_t group) {
          check_mt_r(mt, r);
          check_pos(m_, "m");
          check_pos(c, "c");
          check_pos(group, "group");
          if (m_ % group) fail("m must be a multiple of group");
          const int32_t mi = to_i32(m_, "m"), ci = to_i32(c, "c"), gi = to_i32(group, "group");
          const int64_t nw = prod({mi, ci, r * r});
          const int64_t nt = (int64_t)lne::winograd_f32_weights_size(mi, ci, mt, r, gi);
          const float* wp = in_ptr(w, nw, "w");
          float* tp = out_ptr(wt, nt, "wt");
          check_disjoint(wp, nw, tp, nt, "w and wt");
          py::gil_scoped_release nogil;
          lne::winograd_f32_transform_weights(mt, r, mi, ci, wp, tp, gi);
        },
        py::arg("mt"), py::arg("r"), py::arg("m"), py::arg("c"), py::arg("w"), py::arg("wt"),
        py::arg("group") = 1,
        "(mt, r, m, c, w, wt, group=1)\n"
        "C++ weight transform of F(mt x mt, r x r): w [m, c, r, r] (c per group) -> wt\n"
        "(winograd_f32_weights_size floats).");
  const char* doc =
      "(p, x, wt, bias, y, scratch)\n"
      "Winograd conv; wt from winograd_f32_transform_weights(mt, r, ...), scratch of\n"
      "winograd_f32_scratch(p, mt) floats.";
  m.def("conv2d_f32_winograd_f23",
        [](py::dict d, py::object x, py::object wt, py::object bias, py::object y, py::object s) {
          winograd_call(2, 3, d, x, wt, bias, y, s);
        },
        py::arg("p"), py::arg("x"), py::arg("wt"), py::arg("bias"), py::arg("y"), py::arg("scratch"), doc);
  m.def("conv2d_f32_winograd_f43",
        [](py::dict d, py::object x, py::object wt, py::object bias, py::object y, py::object s) {
          winograd_call(4, 3, d, x, wt, bias, y, s);
        },
        py::arg("p"), py::arg("x"), py::arg("wt"), py::arg("bias"), py::arg("y"), py::arg("scratch"), doc);
  m.def("conv2d_f32_winograd_f25",
        [](py::dict d, py::object x, py::object wt, py::object bias, py::object y, py::object s) {
          winograd_call(2, 5, d, x, wt, bias, y, s);
        },
        py::arg("p"), py::arg("x"), py::arg("wt"), py::arg("bias"), py::arg("y"), py::arg("scratch"), doc);
}
