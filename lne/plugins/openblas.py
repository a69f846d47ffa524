"""OpenBLAS plugin: Conv (im2col + cblas_sgemm) and Gemm on OpenBLAS (Debian: libopenblas-dev)."""
from __future__ import annotations

from ..kernels.conv import _call as _conv_call
from ..kernels.gemm import _gemm
from ..kernels.registry import KernelDef, register as register_kernel
from . import Plugin, register

HEADER = "plugins/openblas/openblas_gemm.h"


def full_im2col_bytes(node, g) -> int:
    """Scratch of conv2d_f32_openblas: the whole column matrix (none for a pointwise conv)."""
    c, h, w = g.tensors[node.inputs[0]].shape[1:]
    oh, ow = g.tensors[node.outputs[0]].shape[2:]
    a = node.attrs
    (kh, kw), (sh, sw), pads = a["kernel_shape"], a["strides"], a["pads"]
    if kh == kw == 1 and sh == sw == 1 and pads[0] == pads[1] == 0 and (oh, ow) == (h, w):
        return 0
    return 4 * (c // a["group"]) * kh * kw * oh * ow

register(Plugin("openblas", "OpenBLAS cblas_sgemm for Conv and Gemm (apt-get install libopenblas-dev)", """
find_path(LNE_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas)
find_library(LNE_OPENBLAS_LIBRARY NAMES openblas)
if(NOT LNE_CBLAS_INCLUDE OR NOT LNE_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "this bundle uses the OpenBLAS plugin: install OpenBLAS (apt-get install libopenblas-dev)")
endif()
target_include_directories(@TARGET@_objects PRIVATE "${LNE_CBLAS_INCLUDE}")
list(APPEND @TARGET@_PLUGIN_LIBRARIES "${LNE_OPENBLAS_LIBRARY}")
"""))

register_kernel(KernelDef("Conv", "openblas", HEADER, _conv_call("conv2d_f32_openblas", True), family="conv2d",
                          priority=12, plugin="openblas", scratch=full_im2col_bytes,
                          applies=lambda n, g: n.attrs["group"] == 1))
register_kernel(KernelDef("Gemm", "openblas", HEADER, _gemm("gemm_f32_openblas"), family="gemm", priority=12,
                          plugin="openblas", applies=lambda n, g: not n.attrs["transA"]))
