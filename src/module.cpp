// pybind11 module lne._kernels: every runtime kernel callable from Python (for tests against
// numpy / onnxruntime). See bind_util.h for the calling conventions.
#include "bind_util.h"

#include "lne/common.h"

PYBIND11_MODULE(_kernels, m) {
  m.doc() =
      "LNE runtime kernels (runtime/kernels/...) exposed for testing.\n\n"
      "Every function mirrors its C++ kernel: same name, same argument order. A params struct\n"
      "is a dict keyed by the struct's field names; an Act is None, an int kind, a\n"
      "(kind, alpha, beta) tuple or a dict {kind, alpha, beta}; tensors are numpy float32\n"
      "C-contiguous arrays (any shape, the element count is checked against the params);\n"
      "outputs (y, C, scratch) are preallocated arrays written in place. Size, dtype and\n"
      "aliasing problems raise ValueError.";
  m.attr("ACT_NONE") = (int)lne::ACT_NONE;
  m.attr("ACT_RELU") = (int)lne::ACT_RELU;
  m.attr("ACT_CLIP") = (int)lne::ACT_CLIP;
  m.attr("ACT_LEAKY_RELU") = (int)lne::ACT_LEAKY_RELU;
  m.attr("ACT_SIGMOID") = (int)lne::ACT_SIGMOID;
  m.attr("ACT_TANH") = (int)lne::ACT_TANH;
  m.attr("ACT_HARD_SIGMOID") = (int)lne::ACT_HARD_SIGMOID;
  m.attr("ACT_HARD_SWISH") = (int)lne::ACT_HARD_SWISH;
  m.attr("kMaxRank") = (int)lne::kMaxRank;
  init_gemm(m);
  init_conv(m);
  init_pool(m);
  init_eltwise(m);
  init_tensor(m);
  init_softmax(m);
  init_lrn(m);
}
