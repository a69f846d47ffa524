"""Convolution (and the depthwise layer types of common Caffe forks) and InnerProduct."""
from __future__ import annotations

import numpy as np

from .common import axis, hw, positive, rank4

# Forks' depthwise layers (e.g. DepthwiseConvolution, ConvolutionDepthwise) read
# convolution_param and always have one group per input channel.
DEPTHWISE = ("ConvolutionDepthwise", "DepthwiseConvolution")


def convolution(b) -> list[str]:
    layer, p = b.layer, b.layer.convolution_param
    if len(layer.bottom) != len(layer.top):
        raise b.error(f"has {len(layer.bottom)} bottoms and {len(layer.top)} tops; they must pair up")
    if p.axis not in (1, -3):
        raise b.error(f"convolution_param.axis={p.axis} is not supported (channels must be axis 1)")
    if not p.num_output:
        raise b.error("convolution_param.num_output must be a positive integer")
    k = hw(b, p, "convolution_param", "kernel_size", None, True)
    if k is None:
        raise b.error("convolution_param.kernel_size (or kernel_h and kernel_w) is missing")
    k = positive(b, k, "convolution_param.kernel_size")
    stride = positive(b, hw(b, p, "convolution_param", "stride", 1, True), "convolution_param.stride")
    pad = hw(b, p, "convolution_param", "pad", 0, True)
    dil = list(p.dilation)
    if len(dil) > 2:
        raise b.error(f"convolution_param.dilation has {len(dil)} values; 2-D layers take 1 or 2")
    dil = positive(b, (dil[0], dil[-1]) if dil else (1, 1), "convolution_param.dilation")
    m = int(p.num_output)
    outs = []
    weights = None
    for i in range(len(layer.bottom)):
        x = b.bottom(i)
        _, c, _, _ = rank4(b, x)
        if layer.type in DEPTHWISE:
            if p.HasField("group") and p.group not in (1, c):
                raise b.error(f"convolution_param.group={p.group}: a {layer.type} layer has one group per "
                              f"input channel ({c})")
            group = c
        else:
            group = int(p.group)
        if group < 1 or c % group:
            raise b.error(f"convolution_param.group={group} does not divide the {c} input channels")
        if m % group:
            raise b.error(f"convolution_param.group={group} does not divide num_output={m}")
        if weights is None:
            weights = _weights(b, p.bias_term, (m, c // group) + k, (m,), "weights [num_output, C/group, kh, kw]")
        attrs = {"kernel_shape": list(k), "strides": list(stride), "dilations": list(dil),
                 "pads": [pad[0], pad[1], pad[0], pad[1]], "group": group}
        outs.append(b.node("Conv", [x] + weights, attrs, out=b.top(i)))
    return outs


def _weights(b, bias_term: bool, w_shape, b_shape, what: str) -> list[str]:
    blobs = b.blobs(2 if bias_term else 1, what + (" and bias" if bias_term else ""))
    names = [b.const("weight", b.check_blob(blobs[0], w_shape, "weights", 0))]
    if bias_term:
        names.append(b.const("bias", b.check_blob(blobs[1], b_shape, "bias", 1)))
    return names


def inner_product(b) -> list[str]:
    layer, p = b.layer, b.layer.inner_product_param
    x = b.bottom(0)
    shape = b.shape(x)
    if not p.num_output:
        raise b.error("inner_product_param.num_output must be a positive integer")
    a = axis(b, p.axis, len(shape), "inner_product_param.axis")
    n = int(p.num_output)
    k = int(np.prod(shape[a:], dtype=np.int64))
    m = int(np.prod(shape[:a], dtype=np.int64))
    w_shape = (k, n) if p.transpose else (n, k)
    weights = _weights(b, p.bias_term, w_shape, (n,), f"weights {list(w_shape)}")
    x2 = x if shape == (m, k) else b.node("Flatten", [x], {"axis": a}, tag="flatten")
    out_shape = tuple(shape[:a]) + (n,)
    if out_shape == (m, n):
        return [b.node("Gemm", [x2] + weights, {"transB": 0 if p.transpose else 1}, out=b.top())]
    y = b.node("Gemm", [x2] + weights, {"transB": 0 if p.transpose else 1}, tag="gemm")
    return [b.node("Reshape", [y], {"shape": list(out_shape)}, out=b.top())]


LAYERS = {"Convolution": convolution, "InnerProduct": inner_product,
          **{t: convolution for t in DEPTHWISE}}
