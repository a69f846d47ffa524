"""NEON kernels (isa="neon"): the Arm counterparts of the portable GEMM, im2col / depthwise
convolution, pooling and element-wise kernels (runtime/kernels/*/*_neon.h).

select_kernels only offers them to targets whose ISA list has "neon" (every board); each one
covers exactly the cases of the portable kernel it replaces and outranks it by one priority
step, so the portable kernel stays the fallback and other choices (Winograd, plugins) keep
their order. The C++ parameter structs are shared with the portable kernels, so their
parameter builders are reused here.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.activation import act_of
from ..ops.binary import KINDS
from .conv import _call as _conv, conv_params
from .eltwise import MAX_RANK, binary_params
from .gemm import gemm_params, matmul_params
from .pool import _global, _pool
from .registry import Emitter, KernelDef, c_act, for_op, get, register

BIN_PRELU = 4  # lne::BinaryKind
UNARY_OPS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish")
BINARY_OPS = ("Add", "Sub", "Mul", "Div", "PRelu")


def _over(op: str, *names: str) -> int:
    """One step above the named portable kernels of `op` (all generic core kernels if none
    are named)."""
    if names:
        ks = [get(op, n) for n in names]
    else:
        ks = [k for k in for_op(op) if k.isa == "generic" and k.plugin is None]
    return max(k.priority for k in ks) + 1


def _neon(op, family, variant, header, emit, **kw) -> KernelDef:
    return register(KernelDef(op, variant, f"kernels/{header}", emit, family=family, isa="neon", **kw))


# -- convolution --------------------------------------------------------------------------------
def im2col_scratch_floats(node, g) -> int:
    """Mirror of conv2d_f32_im2col_neon_scratch() in runtime/kernels/conv/conv_im2col_neon.h."""
    n, c, h, w = g.tensors[node.inputs[0]].shape
    _, m, oh, ow = g.tensors[node.outputs[0]].shape
    a = node.attrs
    (kh, kw), (sh, sw), pads = a["kernel_shape"], a["strides"], a["pads"]
    if kh == kw == 1 and sh == sw == 1 and pads[0] == pads[1] == 0 and oh == h and ow == w:
        return 0
    return (c // a["group"]) * kh * kw * oh * ow




def _is_depthwise(node, g) -> bool:
    c = g.tensors[node.inputs[0]].shape[1]
    m = g.tensors[node.outputs[0]].shape[1]
    return node.attrs["group"] == c == m


_neon("Conv", "conv2d", "im2col", "conv/conv_im2col_neon.h", _conv("conv2d_f32_im2col_neon", True),
      priority=_over("Conv", "conv2d_f32_im2col"), scratch=lambda n, g: 4 * im2col_scratch_floats(n, g))
_neon("Conv", "conv2d", "depthwise", "conv/conv_depthwise_neon.h", _conv("conv2d_f32_depthwise_neon"),
      priority=_over("Conv", "conv2d_f32_depthwise"), applies=_is_depthwise)


# -- Gemm / MatMul ------------------------------------------------------------------------------
def _gemm(e: Emitter) -> str:
    p = e.params("lne::GemmParams", gemm_params(e))
    c = e.inputs[2] if len(e.inputs) > 2 else "nullptr"
    return f"lne::gemm_f32_neon({p}, {e.inputs[0]}, {e.inputs[1]}, {c}, {e.outputs[0]});"


def _matmul(e: Emitter) -> str:
    p = e.params("lne::MatMulParams", matmul_params(e.node, e.graph))
    return f"lne::matmul_f32_neon({p}, {e.inputs[0]}, {e.inputs[1]}, {e.outputs[0]});"


_neon("Gemm", "gemm", "blocked", "gemm/gemm_neon.h", _gemm, priority=_over("Gemm", "gemm_f32_blocked"),
      applies=lambda n, g: not n.attrs["transA"] and not n.attrs["transB"])
_neon("MatMul", "matmul", "blocked", "gemm/gemm_neon.h", _matmul, priority=_over("MatMul", "matmul_f32_blocked"),
      applies=lambda n, g: matmul_params(n, g) is not None)


# -- pooling ------------------------------------------------------------------------------------


_neon("MaxPool", "maxpool2d", "ref", "pool/pool_neon.h", _pool("maxpool2d_f32_neon"), priority=_over("MaxPool"))
_neon("AveragePool", "avgpool2d", "ref", "pool/pool_neon.h", _pool("avgpool2d_f32_neon"),
      priority=_over("AveragePool"), applies=lambda n, g: list(n.attrs["dilations"]) == [1, 1])
_neon("GlobalAveragePool", "global_avgpool", "ref", "pool/pool_neon.h", _global("global_avgpool_f32_neon"),
      priority=_over("GlobalAveragePool"))
_neon("GlobalMaxPool", "global_maxpool", "ref", "pool/pool_neon.h", _global("global_maxpool_f32_neon"),
      priority=_over("GlobalMaxPool"))


# -- element-wise -------------------------------------------------------------------------------
def _unary(e: Emitter) -> str:
    p = e.params("lne::Act", c_act(act_of(e.node)))
    n = math.prod(e.out_shape())
    return f"lne::unary_f32_neon({p}, {n}, {e.inputs[0]}, {e.outputs[0]});"


def _binary(e: Emitter) -> str:
    kind = BIN_PRELU if e.node.op == "PRelu" else KINDS[e.node.op]
    fields = binary_params(kind, e.in_shape(0), e.in_shape(1), e.out_shape(), e.node.attrs.get("act"))
    p = e.params("lne::BinaryParams", fields)
    return f"lne::binary_f32_neon({p}, {e.inputs[0]}, {e.inputs[1]}, {e.outputs[0]});"


def _affine(e: Emitter) -> str:
    shape = e.in_shape(0)
    inner = math.prod(shape[2:])
    act = e.params("lne::Act", c_act(e.node.attrs.get("act")))
    return (f"lne::channel_affine_f32_neon({shape[0]}, {shape[1]}, {inner}, {e.inputs[0]}, {e.inputs[1]}, "
            f"{e.inputs[2]}, {act}, {e.outputs[0]});")


for _op in UNARY_OPS:
    _neon(_op, "unary", "ref", "eltwise/eltwise_neon.h", _unary, priority=_over(_op))
for _op in BINARY_OPS:
    _neon(_op, "binary", "ref", "eltwise/eltwise_neon.h", _binary, priority=_over(_op),
          applies=lambda n, g: len(g.tensors[n.outputs[0]].shape) <= MAX_RANK)
_neon("ChannelAffine", "channel_affine", "ref", "eltwise/eltwise_neon.h", _affine, priority=_over("ChannelAffine"))
