"""OpenBLAS plugin: Conv (im2col + cblas_sgemm) and Gemm on OpenBLAS (Debian: libopenblas-dev)."""
from __future__ import annotations

from ..kernels.conv import _call as _conv_call, im2col_scratch_floats
from ..kernels.gemm import _gemm
from ..kernels.registry import KernelDef, register as register_kernel
from . import Plugin, register

HEADER = "plugins/openblas/openblas_gemm.h"

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
                          priority=12, plugin="openblas", scratch=lambda n, g: 4 * im2col_scratch_floats(n, g),
                          applies=lambda n, g: n.attrs["group"] == 1))
register_kernel(KernelDef("Gemm", "openblas", HEADER, _gemm("gemm_f32_openblas"), family="gemm", priority=12,
                          plugin="openblas", applies=lambda n, g: not n.attrs["transA"]))
