// Bindings: element-wise kernels (runtime/kernels/eltwise).
#include "bind_util.h"

#include "kernels/eltwise/binary_ref.h"
#include "kernels/eltwise/channel_affine_ref.h"
#include "kernels/eltwise/unary_ref.h"

using namespace lne_bind;

void init_eltwise(py::module_& m) {
  m.attr("BIN_ADD") = (int)lne::BIN_ADD;
  m.attr("BIN_SUB") = (int)lne::BIN_SUB;
  m.attr("BIN_MUL") = (int)lne::BIN_MUL;
  m.attr("BIN_DIV") = (int)lne::BIN_DIV;
  m.attr("BIN_PRELU") = (int)lne::BIN_PRELU;
  m.attr("BIN_MAX") = (int)lne::BIN_MAX;
  m.attr("BIN_MIN") = (int)lne::BIN_MIN;

  m.def("unary_f32_ref",
        [](py::object act, int64_t n, py::object x, py::object y) {
          const lne::Act a = parse_act(act);
          check_nonneg(n, "n");
          const float* px = in_ptr(x, n, "x");
          float* py_ = out_ptr(y, n, "y");
          check_same_or_disjoint(px, n, py_, n, "x and y");
          py::gil_scoped_release nogil;
          lne::unary_f32_ref(a, n, px, py_);
        },
        py::arg("act"), py::arg("n"), py::arg("x"), py::arg("y"),
        "(act, n, x, y): y[i] = act(x[i]); x, y: n elements; y may be x (in place).");

  m.def("binary_f32_ref",
        [](py::dict d, py::object a, py::object b, py::object y) {
          lne::BinaryParams p{};
          p.kind = get_i32(d, "kind");
          if (p.kind < lne::BIN_ADD || p.kind > lne::BIN_MIN) fail("kind: unknown binary kind");
          const std::vector<int64_t> shape = get_vec(d, "out_shape");
          const std::vector<int64_t> sa = get_vec(d, "a_strides");
          const std::vector<int64_t> sb = get_vec(d, "b_strides");
          const size_t r = shape.size();
          if (r < 1 || r > (size_t)lne::kMaxRank) fail("out_shape: rank must be in [1, kMaxRank]");
          if (sa.size() != r || sb.size() != r) fail("a_strides / b_strides: length != rank");
          p.rank = (int32_t)r;
          p.act = dict_act(d);
          int64_t ny = 1, amax = 0, bmax = 0;
          bool a_full = true, b_full = true;
          for (int i = (int)r - 1; i >= 0; --i) {
            check_nonneg(shape[i], "out_shape");
            check_nonneg(sa[i], "a_strides");
            check_nonneg(sb[i], "b_strides");
            p.out_shape[i] = shape[i];
            p.a_strides[i] = sa[i];
            p.b_strides[i] = sb[i];
            if (shape[i] > 1) {
              a_full = a_full && sa[i] == ny;
              b_full = b_full && sb[i] == ny;
            }
            if (shape[i] > 0) {
              amax += (shape[i] - 1) * sa[i];
              bmax += (shape[i] - 1) * sb[i];
            }
            ny = prod({ny, shape[i]});
          }
          if (ny == 0) {
            out_ptr(y, 0, "y");
            return;
          }
          int64_t na, nb;
          const float* pa = in_ptr(a, amax + 1, "a", false, &na);
          const float* pb = in_ptr(b, bmax + 1, "b", false, &nb);
          float* py_ = out_ptr(y, ny, "y");
          // y may alias an operand only when that operand is the same, unbroadcast buffer
          if (overlaps(pa, na, py_, ny) && !(pa == py_ && a_full))
            fail("y may alias a only when a is not broadcast (same shape as y, same buffer)");
          if (overlaps(pb, nb, py_, ny) && !(pb == py_ && b_full))
            fail("y may alias b only when b is not broadcast (same shape as y, same buffer)");
          py::gil_scoped_release nogil;
          lne::binary_f32_ref(p, pa, pb, py_);
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("y"),
        "(p, a, b, y): y = act(a op b) with broadcasting.\n"
        "p: dict(kind (BIN_*), out_shape (list, rank 1..kMaxRank), a_strides, b_strides (lists,\n"
        "elements, 0 on broadcast dims), act=None). y: prod(out_shape) elements (written); y may\n"
        "be the same array as a or b when that operand is not broadcast.");

  m.def("channel_affine_f32_ref",
        [](int32_t n, int32_t c, int64_t inner, py::object x, py::object scale, py::object bias,
           py::object act, py::object y) {
          check_pos(n, "n");
          check_pos(c, "c");
          check_nonneg(inner, "inner");
          const lne::Act a = parse_act(act);
          const int64_t nx = prod({n, c, inner});
          const float* px = in_ptr(x, nx, "x");
          const float* ps = in_ptr(scale, c, "scale");
          const float* pb = in_ptr(bias, c, "bias");
          float* py_ = out_ptr(y, nx, "y");
          check_same_or_disjoint(px, nx, py_, nx, "x and y");
          check_disjoint(ps, c, py_, nx, "scale and y");
          check_disjoint(pb, c, py_, nx, "bias and y");
          py::gil_scoped_release nogil;
          lne::channel_affine_f32_ref(n, c, inner, px, ps, pb, a, py_);
        },
        py::arg("n"), py::arg("c"), py::arg("inner"), py::arg("x"), py::arg("scale"),
        py::arg("bias"), py::arg("act"), py::arg("y"),
        "(n, c, inner, x, scale, bias, act, y): y[n,c,i] = act(x[n,c,i]*scale[c] + bias[c]);\n"
        "x, y: n*c*inner elements, scale, bias: c; y may be x (in place).");
}
