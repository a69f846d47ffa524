"""Test utility: a PyTorch module as a Caffe net, so a Caffe model can be checked against the
same module exported to ONNX (no Caffe runtime needed).

`to_net(module, input_shape)` traces the module with torch.fx and writes one Caffe layer per
module or function call, named by the module's path (`features.0`; a BatchNorm2d gives a
BatchNorm layer `X` and a Scale layer `X/scale`). In-place layers (ReLU, BatchNorm, Scale,
Dropout) write their bottom blob when nothing else reads it, as Caffe nets do.
`write_caffemodel(module, net, path)` writes the module's weights as a binary caffemodel matched
by those layer names. Pooling picks CEIL or FLOOR rounding from the module's ceil_mode, so a
prototxt written here has exactly the module's semantics.
"""
from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
import torch
import torch.fx
from google.protobuf import text_format
from torch import nn

from lne.frontends.caffe.schema import LayerParameter, NetParameter

from .caffemodel import field, layer_field, write_blobs

INPLACE = ("ReLU", "ReLU6", "BatchNorm", "Scale", "Dropout", "TanH", "Sigmoid")


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, nn.LocalResponseNorm) or super().is_leaf_module(m, qualname)


def to_net(module: nn.Module, input_shape, name: str = "net", input_form: str = "layer",
           depthwise_type: str | None = None) -> NetParameter:
    """The Caffe NetParameter (no weights) equivalent to `module` on inputs of `input_shape`.
    input_form: "layer" (Input layer), "input_shape" or "input_dim" (net-level input)."""
    module = module.eval()
    gm = torch.fx.GraphModule(module, _Tracer().trace(module))
    from torch.fx.passes.shape_prop import ShapeProp
    ShapeProp(gm).propagate(torch.zeros(input_shape))
    w = _Writer(dict(module.named_modules()), depthwise_type)
    net = NetParameter(name=name)
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            w.blob[node] = "data"
            if input_form == "layer":
                layer = net.layer.add(name="data", type="Input", top=["data"])
                layer.input_param.shape.add(dim=list(input_shape))
            else:
                net.input.append("data")
                if input_form == "input_shape":
                    net.input_shape.add(dim=list(input_shape))
                else:
                    net.input_dim.extend(input_shape)
        elif node.op in ("call_module", "call_function", "call_method"):
            w.emit(net, node)
        elif node.op == "output":
            pass
        else:
            raise NotImplementedError(node.op)
    return net


def to_prototxt(net: NetParameter) -> str:
    return text_format.MessageToString(net)


class _Writer:
    def __init__(self, modules, depthwise_type):
        self.modules, self.depthwise_type = modules, depthwise_type
        self.blob: dict = {}
        self.names: set[str] = set()

    def _name(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def _layer(self, net, node, ltype: str, name: str, bottoms) -> LayerParameter:
        """A layer reading `bottoms` (fx nodes) whose top is this node's blob, in place if allowed."""
        bottom_blobs = [self.blob[b] for b in bottoms]
        src = bottoms[0] if bottoms else None
        inplace = (ltype in INPLACE and src is not None and src.op != "placeholder" and len(src.users) == 1)
        top = bottom_blobs[0] if inplace else name
        self.blob[node] = top
        return net.layer.add(name=name, type=ltype, bottom=bottom_blobs, top=[top])

    def emit(self, net, node) -> None:
        shape = lambda n: tuple(n.meta["tensor_meta"].shape)  # noqa: E731
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if node.op == "call_module":
            m = self.modules[node.target]
            name = self._name(node.target)
            self._module(net, node, m, name, args[0], shape)
            return
        fn = node.target
        stack = node.meta.get("nn_module_stack") or {}
        where = (list(stack.keys())[-1].split("@")[0] + "/") if stack else ""
        if fn is torch.cat:
            tensors = node.args[0]
            layer = self._layer(net, node, "Concat", self._name(where + "concat"), list(tensors))
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            layer.concat_param.axis = dim
        elif fn in (operator.add, torch.add, operator.mul, torch.mul, torch.maximum):
            op = {operator.add: 1, torch.add: 1, operator.mul: 0, torch.mul: 0, torch.maximum: 2}[fn]
            layer = self._layer(net, node, "Eltwise", self._name(where + ("prod", "sum", "max")[op]), args)
            layer.eltwise_param.operation = op
        elif fn in (torch.flatten, "flatten"):
            layer = self._layer(net, node, "Flatten", self._name(where + "flatten"), args[:1])
            layer.flatten_param.axis = node.args[1] if len(node.args) > 1 else 0
        else:
            raise NotImplementedError(f"torch2caffe: {node.op} {fn}")

    def _module(self, net, node, m, name, x, shape) -> None:
        if isinstance(m, nn.Conv2d):
            depthwise = m.groups > 1 and m.groups == m.in_channels == m.out_channels
            layer = self._layer(net, node, (depthwise and self.depthwise_type) or "Convolution", name, [x])
            p = layer.convolution_param
            p.num_output, p.bias_term = m.out_channels, m.bias is not None
            _hw(p, "kernel_size", "kernel_h", "kernel_w", m.kernel_size, repeated=True)
            if m.stride != (1, 1):
                _hw(p, "stride", "stride_h", "stride_w", m.stride, repeated=True)
            if m.padding != (0, 0):
                _hw(p, "pad", "pad_h", "pad_w", m.padding, repeated=True)
            if m.dilation != (1, 1):
                p.dilation.extend(sorted(set(m.dilation)) if m.dilation[0] == m.dilation[1] else m.dilation)
            if m.groups != 1:
                p.group = m.groups
        elif isinstance(m, nn.BatchNorm2d):
            layer = self._layer(net, node, "BatchNorm", name, [x])
            layer.batch_norm_param.eps = m.eps
            scale = net.layer.add(name=self._name(name + "/scale"), type="Scale", bottom=[self.blob[node]],
                                  top=[self.blob[node]])
            scale.scale_param.bias_term = True
        elif isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.PReLU)):
            ltype = {nn.ReLU: "ReLU", nn.ReLU6: "ReLU6", nn.LeakyReLU: "ReLU", nn.Sigmoid: "Sigmoid",
                     nn.Tanh: "TanH", nn.Dropout: "Dropout", nn.PReLU: "PReLU"}[type(m)]
            layer = self._layer(net, node, ltype, name, [x])
            if isinstance(m, nn.LeakyReLU):
                layer.relu_param.negative_slope = m.negative_slope
            if isinstance(m, nn.PReLU) and m.num_parameters == 1:
                layer.prelu_param.channel_shared = True
            if isinstance(m, nn.Dropout):
                layer.dropout_param.dropout_ratio = m.p
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            self._pool(net, node, m, name, x, shape)
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            if m.output_size not in (1, (1, 1)):
                raise NotImplementedError("adaptive pooling to 1x1 only")
            layer = self._layer(net, node, "Pooling", name, [x])
            layer.pooling_param.pool = 1 if isinstance(m, nn.AdaptiveAvgPool2d) else 0
            layer.pooling_param.global_pooling = True
        elif isinstance(m, nn.LocalResponseNorm):
            layer = self._layer(net, node, "LRN", name, [x])
            p = layer.lrn_param
            p.local_size, p.alpha, p.beta, p.k = m.size, m.alpha, m.beta, m.k
        elif isinstance(m, nn.Flatten):
            layer = self._layer(net, node, "Flatten", name, [x])
            layer.flatten_param.axis = m.start_dim
            if m.end_dim != -1:
                layer.flatten_param.end_axis = m.end_dim
        elif isinstance(m, nn.Linear):
            layer = self._layer(net, node, "InnerProduct", name, [x])
            layer.inner_product_param.num_output = m.out_features
            layer.inner_product_param.bias_term = m.bias is not None
            if len(shape(x)) != 2:  # torch applies Linear to the last axis
                layer.inner_product_param.axis = -1
        elif isinstance(m, nn.Softmax):
            layer = self._layer(net, node, "Softmax", name, [x])
            layer.softmax_param.axis = m.dim
        else:
            raise NotImplementedError(f"torch2caffe: module {type(m).__name__}")

    def _pool(self, net, node, m, name, x, shape) -> None:
        k, s, p = (_pair(v) for v in (m.kernel_size, m.stride or m.kernel_size, m.padding))
        if isinstance(m, nn.AvgPool2d) and not m.count_include_pad and p != (0, 0):
            raise NotImplementedError("Caffe AVE pooling counts the padding")
        if isinstance(m, nn.MaxPool2d) and _pair(m.dilation) != (1, 1):
            raise NotImplementedError("Caffe pooling has no dilation")
        layer = self._layer(net, node, "Pooling", name, [x])
        q = layer.pooling_param
        q.pool = 0 if isinstance(m, nn.MaxPool2d) else 1
        _hw(q, "kernel_size", "kernel_h", "kernel_w", k, repeated=False)
        if s != (1, 1):
            _hw(q, "stride", "stride_h", "stride_w", s, repeated=False)
        if p != (0, 0):
            _hw(q, "pad", "pad_h", "pad_w", p, repeated=False)
        out = shape(node)[2:]
        if not m.ceil_mode and any(_ceil_size(n, kk, ss, pp, any(p)) != o
                                   for n, kk, ss, pp, o in zip(shape(x)[2:], k, s, p, out)):
            q.round_mode = 1  # FLOOR


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _hw(p, name, name_h, name_w, pair, repeated):
    pair = _pair(pair)
    if pair[0] == pair[1]:
        if repeated:
            getattr(p, name).append(pair[0])
        else:
            setattr(p, name, pair[0])
    else:
        setattr(p, name_h, pair[0])
        setattr(p, name_w, pair[1])


def _ceil_size(n, k, s, p, any_pad):
    out = -(-(n + 2 * p - k) // s) + 1
    return out - 1 if any_pad and (out - 1) * s >= n + p else out


# -- weights -----------------------------------------------------------------------------------
def layer_blobs(module: nn.Module, layer, bn_scale_factor: float = 1.0) -> list[np.ndarray]:
    """The Caffe blobs of one layer, from the module of the same name."""
    modules = dict(module.named_modules())
    t = lambda v: v.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    if layer.type == "Scale" and layer.name.endswith("/scale"):
        m = modules[layer.name[: -len("/scale")]]
        return [t(m.weight), t(m.bias)]
    m = modules.get(layer.name)
    if m is None:
        return []
    if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
        w = t(m.weight)
        if isinstance(m, nn.Linear) and layer.inner_product_param.transpose:
            w = np.ascontiguousarray(w.T)
        return [w] + ([t(m.bias)] if m.bias is not None else [])
    if isinstance(m, nn.BatchNorm2d):
        f = np.float32(bn_scale_factor)
        return [t(m.running_mean) * f, t(m.running_var) * f, np.array([f], np.float32)]
    if isinstance(m, nn.PReLU):
        return [t(m.weight)]
    return []


def write_caffemodel(module: nn.Module, net: NetParameter, path, bn_scale_factor: float = 1.0) -> Path:
    """Write the module's weights as a binary caffemodel: one `layer` (name, type, blobs) per
    layer of `net` that has weights. Blobs are encoded straight from the arrays' bytes (a packed
    float field is its raw little-endian bytes), which keeps AlexNet's 244 MB fast to write."""
    path = Path(path)
    with open(path, "wb") as f:
        f.write(field(1, net.name.encode()))
        for layer in net.layer:
            blobs = layer_blobs(module, layer, bn_scale_factor)
            if not blobs:
                continue
            f.write(layer_field(LayerParameter(name=layer.name, type=layer.type).SerializeToString(), blobs))
    return path


def embed_weights(module: nn.Module, net: NetParameter, bn_scale_factor: float = 1.0) -> NetParameter:
    """A copy of `net` whose layers carry their blobs (weights inside the prototxt)."""
    out = NetParameter()
    out.CopyFrom(net)
    for layer in out.layer:
        for a in layer_blobs(module, layer, bn_scale_factor):
            blob = layer.blobs.add()
            blob.shape.dim.extend(a.shape)
            blob.data.extend(a.reshape(-1).tolist())
    return out


__all__ = ["to_net", "to_prototxt", "write_caffemodel", "write_blobs", "embed_weights", "layer_blobs"]
