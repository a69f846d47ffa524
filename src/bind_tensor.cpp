// Bindings: layout kernels (runtime/kernels/tensor).
#include "bind_util.h"

#include "kernels/tensor/concat_ref.h"
#include "kernels/tensor/copy_ref.h"
#include "kernels/tensor/pad_ref.h"
#include "kernels/tensor/reorder.h"
#include "kernels/tensor/transpose_ref.h"

using namespace lne_bind;

void init_tensor(py::module_& m) {
  m.def("reorder_f32_nchw8c",
        [](bool to_blocked, int64_t n, int64_t c, int64_t hw, py::object x, py::object y) {
          check_pos(n, "n");
          check_pos(c, "c");
          check_pos(hw, "hw");
          const int64_t ne = prod({n, c, hw}), nb = prod({n, (c + 7) / 8 * 8, hw});
          const float* px = in_ptr(x, to_blocked ? ne : nb, "x");
          float* py_ = out_ptr(y, to_blocked ? nb : ne, "y");
          check_disjoint(px, to_blocked ? ne : nb, py_, to_blocked ? nb : ne, "x and y");
          py::gil_scoped_release nogil;
          if (to_blocked) lne::reorder_f32_to_nchw8c(n, c, hw, px, py_);
          else lne::reorder_f32_from_nchw8c(n, c, hw, px, py_);
        },
        py::arg("to_blocked"), py::arg("n"), py::arg("c"), py::arg("hw"), py::arg("x"), py::arg("y"),
        "(to_blocked, n, c, hw, x, y): reorder_f32_to_nchw8c (to_blocked) or reorder_f32_from_nchw8c.");
  m.attr("PAD_CONSTANT") = (int)lne::PAD_CONSTANT;
  m.attr("PAD_REFLECT") = (int)lne::PAD_REFLECT;
  m.attr("PAD_EDGE") = (int)lne::PAD_EDGE;

  m.def("concat_f32_ref",
        [](int64_t outer, int32_t num_inputs, py::list xs, std::vector<int64_t> inner_sizes,
           py::object y) {
          check_nonneg(outer, "outer");
          if (num_inputs < 1 || (size_t)num_inputs != xs.size() ||
              inner_sizes.size() != xs.size())
            fail("num_inputs must equal len(xs) == len(inner_sizes) >= 1");
          std::vector<const float*> ptrs(num_inputs);
          std::vector<int64_t> sizes(num_inputs);
          int64_t total = 0;
          for (int32_t i = 0; i < num_inputs; ++i) {
            check_nonneg(inner_sizes[i], "inner_sizes");
            sizes[i] = prod({outer, inner_sizes[i]});
            ptrs[i] = in_ptr(xs[i], sizes[i], "xs[i]");
            total += inner_sizes[i];
          }
          const int64_t ny = prod({outer, total});
          float* py_ = out_ptr(y, ny, "y");
          for (int32_t i = 0; i < num_inputs; ++i) check_disjoint(ptrs[i], sizes[i], py_, ny, "xs[i] and y");
          py::gil_scoped_release nogil;
          lne::concat_f32_ref(outer, num_inputs, ptrs.data(), inner_sizes.data(), py_);
        },
        py::arg("outer"), py::arg("num_inputs"), py::arg("xs"), py::arg("inner_sizes"),
        py::arg("y"),
        "(outer, num_inputs, xs, inner_sizes, y): concat; xs: list of arrays, xs[i] holds\n"
        "outer*inner_sizes[i] elements; y: outer*sum(inner_sizes) (written).");

  m.def("transpose_f32_ref",
        [](py::dict d, py::object x, py::object y) {
          lne::TransposeParams p{};
          const std::vector<int64_t> shape = get_vec(d, "in_shape");
          const std::vector<int64_t> perm = get_vec(d, "perm");
          const size_t r = shape.size();
          if (r < 1 || r > (size_t)lne::kMaxRank) fail("in_shape: rank must be in [1, kMaxRank]");
          if (perm.size() != r) fail("perm: length != rank");
          p.rank = (int32_t)r;
          std::vector<bool> seen(r, false);
          int64_t n = 1;
          for (size_t i = 0; i < r; ++i) {
            check_nonneg(shape[i], "in_shape");
            if (perm[i] < 0 || perm[i] >= (int64_t)r || seen[perm[i]]) fail("perm: not a permutation");
            seen[perm[i]] = true;
            p.in_shape[i] = shape[i];
            p.perm[i] = (int32_t)perm[i];
            n = prod({n, shape[i]});
          }
          const float* px = in_ptr(x, n, "x");
          float* py_ = out_ptr(y, n, "y");
          check_disjoint(px, n, py_, n, "x and y");
          if (n == 0) return;
          py::gil_scoped_release nogil;
          lne::transpose_f32_ref(p, px, py_);
        },
        py::arg("p"), py::arg("x"), py::arg("y"),
        "(p, x, y): p: dict(in_shape (list), perm (list, ONNX: out dim i = in dim perm[i])).");

  m.def("pad_f32_ref",
        [](py::dict d, py::object x, py::object y) {
          lne::PadParams p{};
          const std::vector<int64_t> ins = get_vec(d, "in_shape");
          const std::vector<int64_t> outs = get_vec(d, "out_shape");
          const std::vector<int64_t> beg = get_vec(d, "begin");
          const size_t r = ins.size();
          if (r < 1 || r > (size_t)lne::kMaxRank) fail("in_shape: rank must be in [1, kMaxRank]");
          if (outs.size() != r || beg.size() != r) fail("out_shape / begin: length != rank");
          p.rank = (int32_t)r;
          p.mode = get_i32(d, "mode", lne::PAD_CONSTANT);
          if (p.mode < lne::PAD_CONSTANT || p.mode > lne::PAD_EDGE) fail("mode: unknown pad mode");
          p.value = get_f32(d, "value", 0.f);
          int64_t nx = 1, ny = 1;
          for (size_t i = 0; i < r; ++i) {
            check_nonneg(ins[i], "in_shape");
            check_nonneg(outs[i], "out_shape");
            p.in_shape[i] = ins[i];
            p.out_shape[i] = outs[i];
            p.begin[i] = beg[i];
            nx = prod({nx, ins[i]});
            ny = prod({ny, outs[i]});
          }
          const float* px = in_ptr(x, nx, "x");
          float* py_ = out_ptr(y, ny, "y");
          check_disjoint(px, nx, py_, ny, "x and y");
          py::gil_scoped_release nogil;
          lne::pad_f32_ref(p, px, py_);
        },
        py::arg("p"), py::arg("x"), py::arg("y"),
        "(p, x, y): ONNX Pad. p: dict(in_shape, out_shape, begin (lists; begin[d] = leading pad,\n"
        "negative crops), mode=PAD_CONSTANT (PAD_REFLECT, PAD_EDGE), value=0.0).");

  m.def("copy_f32_ref",
        [](int64_t n, py::object x, py::object y) {
          check_nonneg(n, "n");
          const float* px = in_ptr(x, n, "x", false);
          float* py_ = out_ptr(y, n, "y", false);
          py::gil_scoped_release nogil;
          lne::copy_f32_ref(n, px, py_);
        },
        py::arg("n"), py::arg("x"), py::arg("y"), "(n, x, y): y[:n] = x[:n] (x, y hold at least n elements; x may be y).");
}
