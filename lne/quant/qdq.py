"""The QDQ writer: float ONNX model + activation ranges -> ONNX QDQ model (format: lne/quant/__init__).

``prepare`` names unnamed nodes, folds Conv -> BatchNormalization and sets the opset;
``find_layers`` lists the quantizable layers; ``activations`` the tensors to calibrate;
``write`` inserts QuantizeLinear / DequantizeLinear for any subset of the layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lne.errors import LNEError

PASSTHROUGH = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"}
FUSED_ACT = {"Relu", "Clip"}
BITS = {"int8": 8, "int16": 16}


@dataclass
class Layer:
    name: str               # node name (what --keep-float takes)
    op: str
    input: str              # activation input
    weight: str             # weight initializer
    axis: int               # output-channel axis of the weight
    bias: str | None        # bias initializer (quantized to int32 when possible)
    output: str | None      # activation output to quantize (after a fused Relu/Clip), None: stays float


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def prepare(model: onnx.ModelProto, mode: str) -> onnx.ModelProto:
    """A copy of ``model`` ready to quantize: named nodes, Conv+BN folded, opset >= 13 (21 for int16)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    seen = set()
    for i, n in enumerate(m.graph.node):
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{i}"
        seen.add(n.name)
    _fold_batchnorm(m)
    want = 21 if mode == "int16" else max(13, _opset(m))
    if _opset(m) < want:
        from onnx import version_converter
        try:
            m = version_converter.convert_version(m, want)
        except Exception as e:
            raise LNEError(f"cannot convert the model from opset {_opset(m)} to {want}: {e}") from None
    if want >= 21 and m.ir_version < 10:
        m.ir_version = 10
    return m


def _fold_batchnorm(m: onnx.ModelProto) -> None:
    """Fold BatchNormalization into the Conv that alone feeds it (eval-mode statistics)."""
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers = _consumers(g)
    outputs = {o.name for o in g.output}
    producer = {o: n for n in g.node for o in n.output}
    drop = []
    for bn in g.node:
        if bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue
        conv = producer.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or len(consumers[bn.input[0]]) != 1 or bn.input[0] in outputs:
            continue
        if not all(x in inits for x in list(bn.input[1:5]) + [conv.input[1]] + list(conv.input[2:3])):
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[x]).astype(np.float64) for x in bn.input[1:5])
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 and conv.input[2] \
            else np.zeros(w.shape[0])
        k = gamma / np.sqrt(var + eps)
        w = w * k.reshape(-1, *([1] * (w.ndim - 1)))
        b = (b - mean) * k + beta
        wname, bname = conv.input[1] + "_bnfold", conv.input[1] + "_bnfold_bias"
        g.initializer.extend([numpy_helper.from_array(w.astype(np.float32), wname),
                              numpy_helper.from_array(b.astype(np.float32), bname)])
        conv.input[1] = wname
        if len(conv.input) > 2:
            conv.input[2] = bname
        else:
            conv.input.append(bname)
        conv.output[0] = bn.output[0]
        drop.append(bn)
    for n in drop:
        g.node.remove(n)
    _drop_unused_initializers(g)


def _consumers(g) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in g.node:
        for x in n.input:
            out.setdefault(x, []).append(n)
    return out


def _drop_unused_initializers(g) -> None:
    """Remove initializers nothing reads (and their graph inputs, in models that list them there)."""
    used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
    gone = {i.name for i in g.initializer if i.name not in used}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    inputs = [v for v in g.input if v.name not in gone]
    del g.input[:]
    g.input.extend(inputs)


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def find_layers(model: onnx.ModelProto) -> list[Layer]:
    """The quantizable layers of a prepared model, in graph order."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers = _consumers(g)
    outputs = {o.name for o in g.output}
    layers = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        w = inits.get(n.input[1])
        if w is None or w.data_type != TensorProto.FLOAT or n.input[0] in inits:
            continue
        dims = list(w.dims)
        bias = n.input[2] if len(n.input) > 2 and n.input[2] in inits else None
        if n.op_type == "Conv":
            axis = 0
        elif n.op_type == "Gemm":
            if _attr(n, "transA", 0) or len(dims) != 2:
                continue
            axis = 0 if _attr(n, "transB", 0) else 1
            if bias is not None and (_attr(n, "alpha", 1.0) != 1.0 or _attr(n, "beta", 1.0) != 1.0
                                     or list(inits[bias].dims) != [dims[axis]]):
                bias = None
        else:
            if len(dims) != 2:
                continue
            axis = 1
        out = n.output[0]
        users = consumers.get(out, [])
        if len(users) == 1 and users[0].op_type in FUSED_ACT and out not in outputs:
            out = users[0].output[0]
            users = consumers.get(out, [])
        if out in outputs or any(u.op_type == "Softmax" for u in users) or not users:
            out = None
        layers.append(Layer(n.name, n.op_type, n.input[0], n.input[1], axis, bias, out))
    return layers


def activations(model: onnx.ModelProto, layers: list[Layer]) -> tuple[list[str], dict[str, str]]:
    """(tensors to calibrate, {passthrough output: the input whose scale it reuses})."""
    tensors = []
    for L in layers:
        for t in (L.input, L.output):
            if t is not None and t not in tensors:
                tensors.append(t)
    producer = {o: n for n in model.graph.node for o in n.output}
    share = {}
    for t in tensors:
        src = t
        while src in producer and producer[src].op_type in PASSTHROUGH and producer[src].input:
            src = producer[src].input[0]
            if src in tensors:
                share[t] = src
                break
    return tensors, share


def act_params(lo: float, hi: float, mode: str) -> tuple[float, int, int]:
    """(scale, zero point, ONNX type) of an activation range."""
    if mode == "int16":
        amax = max(abs(lo), abs(hi))
        return (amax / 32767.0 if amax > 0 else 1.0), 0, TensorProto.INT16
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return 1.0, 0, TensorProto.UINT8
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(round(-lo / scale), 0, 255)), TensorProto.UINT8


# --reduce-range: int8 weights in [-64, 64], the widest range where the sum of two uint8 x int8
# products fits int16 (2 * 255 * 64 = 32640). onnxruntime's x86 int8 kernels without AVX-VNNI add
# such pairs with vpmaddubsw, which saturates beyond it; LNE's kernels never do (see qgemm_avx2.h).
REDUCED_QMAX = 64


def weight_params(w: np.ndarray, axis: int, mode: str, reduce_range: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(per-channel scale, quantized weight) symmetric with zero point 0, |q| <= qmax."""
    qmax = 32767 if mode == "int16" else REDUCED_QMAX if reduce_range else 127
    amax = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1).astype(np.float64)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -qmax, qmax)
    return scale, q.astype(np.int8 if mode == "int8" else np.int16)


def write(model: onnx.ModelProto, layers: list[Layer], ranges: dict[str, tuple[float, float]],
          share: dict[str, str], mode: str, reduce_range: bool = False) -> tuple[onnx.ModelProto, list[str]]:
    """A QDQ copy of the prepared ``model`` with ``layers`` quantized; returns (model, notes).
    ``reduce_range``: int8 weights in [-REDUCED_QMAX, REDUCED_QMAX] (see there)."""
    if mode not in BITS:
        raise LNEError(f"quantization mode {mode!r}: choose int8 or int16")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    notes: list[str] = []
    new_inits, new_nodes = [], []
    taken = {i.name for i in g.initializer} | {x for n in g.node for x in list(n.input) + list(n.output)} | \
        {v.name for v in list(g.input) + list(g.output)} | {n.name for n in g.node}

    def fresh(name: str) -> str:
        """``name``, or ``name_2``... if the model already uses it."""
        out, k = name, 1
        while out in taken:
            k += 1
            out = f"{name}_{k}"
        taken.add(out)
        return out
    params: dict[str, tuple[float, int, int]] = {}
    acts = [t for L in layers for t in (L.input, L.output) if t is not None]
    for t in dict.fromkeys(acts):
        params[t] = act_params(*ranges[share.get(t, t)], mode)
    # activations: Q -> DQ after the producer, consumers rewired to the DQ output (a graph output
    # keeps its float tensor: only consumers inside the graph see the DQ)
    consumers = _consumers(g)
    for t, (scale, zp, qtype) in params.items():
        s, z, q, d = (fresh(f"{t}_{k}") for k in ("scale", "zero_point", "quantized", "dequantized"))
        new_inits += [helper.make_tensor(s, TensorProto.FLOAT, [], [scale]), helper.make_tensor(z, qtype, [], [zp])]
        for c in consumers.get(t, []):
            for k, x in enumerate(c.input):
                if x == t:
                    c.input[k] = d
        new_nodes += [helper.make_node("QuantizeLinear", [t, s, z], [q], name=fresh(f"{t}_QuantizeLinear")),
                      helper.make_node("DequantizeLinear", [q, s, z], [d], name=fresh(f"{t}_DequantizeLinear"))]
    # weights and biases
    nodes = {n.name: n for n in g.node}
    done: dict[tuple, tuple] = {}

    def add_dq(base: str, q: np.ndarray, scale: np.ndarray, axis: int) -> str:
        """Integer initializer + per-channel scale / zero point + DequantizeLinear; returns its output."""
        names = [fresh(f"{base}_{k}") for k in ("quantized", "scale", "zero_point", "dequantized")]
        new_inits.extend([numpy_helper.from_array(q, names[0]),
                          numpy_helper.from_array(scale.astype(np.float32), names[1]),
                          numpy_helper.from_array(np.zeros(len(scale), q.dtype), names[2])])
        new_nodes.append(helper.make_node("DequantizeLinear", names[:3], [names[3]],
                                          name=fresh(f"{base}_DequantizeLinear"), axis=axis))
        return names[3]
    for L in layers:
        node = nodes[L.name]
        w = numpy_helper.to_array(inits[L.weight]).astype(np.float32)
        key = (L.weight, L.axis)
        if key not in done:
            scale, q = weight_params(w, L.axis, mode, reduce_range)
            done[key] = (add_dq(L.weight, q, scale, L.axis), scale)
        node.input[1] = done[key][0]
        if L.bias is not None:
            b = numpy_helper.to_array(inits[L.bias]).astype(np.float64)
            bscale = (params[L.input][0] * done[key][1].astype(np.float64)).astype(np.float32)
            bq = np.round(b / bscale)
            if np.any(np.abs(bq) > 2 ** 31 - 1) or not np.all(np.isfinite(bq)):
                notes.append(f"{L.name}: bias does not fit int32 at scale input*weight; kept in float")
                continue
            node.input[2] = add_dq(L.bias, bq.astype(np.int32), bscale, 0)
    g.initializer.extend(new_inits)
    order = _toposort(list(g.node), new_nodes)
    del g.node[:]
    g.node.extend(order)
    _drop_unused_initializers(g)
    del g.value_info[:]
    return m, notes


def expose_last_activation(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str, float]:
    """For comparing engines on a QDQ model: a copy of ``model`` with one more graph output, the
    dequantized value of its last quantized activation, plus that output's name and scale (one
    quantization step). The float tail after it (a final Gemm whose output is not quantized,
    Softmax) has no step of its own to count differences in."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name: i for i in m.graph.initializer}
    qs = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[1] in inits
          and not inits[n.input[1]].dims]
    if not qs:
        raise LNEError("the model quantizes no activation per tensor")
    q = qs[-1]
    dq = next((n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0]), None)
    if dq is None:
        raise LNEError(f"{q.name or q.output[0]}: its quantized tensor is not dequantized")
    if dq.output[0] not in [o.name for o in m.graph.output]:
        m.graph.output.append(helper.make_empty_tensor_value_info(dq.output[0]))
    return m, dq.output[0], float(numpy_helper.to_array(inits[q.input[1]]))


def _toposort(old: list, new: list) -> list:
    """``old`` (already in order) with the ``new`` nodes placed just before their first consumer."""
    producer = {o: n for n in new for o in n.output}
    out, emitted = [], set()

    def emit(n):
        if id(n) in emitted:
            return
        emitted.add(id(n))
        for x in n.input:
            if x in producer:
                emit(producer[x])
        out.append(n)
    for n in old + new:
        emit(n)
    return out
