"""BatchNorm (with its scale-factor blob), Scale and Bias (learned or from a second bottom), LRN
(across and within channels); and `merge_batchnorm_scale`, which turns Caffe's BatchNorm + Scale
pair into the one BatchNormalization an ONNX exporter writes (the passes then fold it into the
convolution before it)."""
from __future__ import annotations

import numpy as np

from lne.limits import show

from .common import axis, rank4


def batch_norm(b) -> list[str]:
    p = b.layer.batch_norm_param
    if p.HasField("use_global_stats") and not p.use_global_stats:
        raise b.error("batch_norm_param.use_global_stats is false (statistics of the batch at run time); "
                      "inference needs the stored statistics: remove the field or set it true")
    x = b.bottom(0)
    shape = b.shape(x)
    if len(shape) < 2:
        raise b.error(f"bottom {show(b.layer.bottom[0])} has shape {list(shape)}; BatchNorm needs (N, C, ...)")
    c = shape[1]
    mean, var, factor = b.blobs(3, "mean, variance and scale factor")
    factor = float(b.check_blob(factor, (1,), "scale factor", 2)[0])
    factor = 0.0 if factor == 0 else 1.0 / factor  # Caffe: a zero factor zeroes mean and variance
    mean = b.check_blob(mean, (c,), "mean", 0).astype(np.float64) * factor
    var = b.check_blob(var, (c,), "variance", 1).astype(np.float64) * factor
    ins = [x, b.const("gamma", np.ones(c)), b.const("beta", np.zeros(c)), b.const("mean", mean), b.const("var", var)]
    return [b.node("BatchNormalization", ins, {"epsilon": float(p.eps)}, out=b.top())]


def _affine(b, op: str, pname: str) -> list[str]:
    """Scale (Mul) or Bias (Add) by a learned blob or a second bottom, over axes
    [axis, axis + num_axes) of bottom 0; Scale's bias_term adds a learned bias after."""
    layer = b.layer
    p = getattr(layer, pname)
    x = b.bottom(0)
    shape = b.shape(x)
    rank = len(shape)
    a = axis(b, p.axis, rank, f"{pname}.axis")
    bias_term = op == "Mul" and p.bias_term
    what = "scale" if op == "Mul" else "bias"
    if len(layer.bottom) > 1:  # the operand is computed: a second bottom
        operand = b.bottom(1)
        k = len(b.shape(operand))
        want = shape[a:a + k]
        if a + k > rank or b.shape(operand) != want:
            raise b.error(f"bottom {show(layer.bottom[1])} has shape {list(b.shape(operand))}; it must match the "
                          f"first bottom's axes from {pname}.axis={p.axis}: {list(shape[a:])}")
        if k and a + k < rank:
            operand = b.node("Reshape", [operand], {"shape": list(want) + [1] * (rank - a - k)}, tag="reshape")
        learned, bias_index = (b.blobs(1, "bias") if bias_term else []), 0
    else:
        k = rank - a if p.num_axes == -1 else p.num_axes
        if k < 0 or a + k > rank:
            raise b.error(f"{pname}.num_axes={p.num_axes} does not fit the bottom shape {list(shape)} from "
                          f"axis {a}")
        want = shape[a:a + k]
        learned = b.blobs(2 if bias_term else 1, "scale and bias" if bias_term else what)
        operand = b.const(what, _expand(b.check_blob(learned[0], want, what, 0), rank - a))
        learned, bias_index = learned[1:], 1
    if not bias_term:
        return [b.node(op, [x, operand], out=b.top())]
    bias = _expand(b.check_blob(learned[0], want, "bias", bias_index), rank - a)
    y = b.node("Mul", [x, operand], tag="scale")
    return [b.node("Add", [y, b.const("bias", bias)], out=b.top())]


def _expand(v: np.ndarray, rank: int) -> np.ndarray:
    """A blob over axes [axis, axis + k) shaped to broadcast against the trailing `rank` axes."""
    return v.reshape(v.shape + (1,) * (rank - v.ndim)) if v.ndim else v


def scale(b) -> list[str]:
    return _affine(b, "Mul", "scale_param")


def bias(b) -> list[str]:
    return _affine(b, "Add", "bias_param")


def lrn(b) -> list[str]:
    p = b.layer.lrn_param
    x = b.bottom(0)
    rank4(b, x)
    size = int(p.local_size)
    if size < 1 or size % 2 == 0:
        raise b.error(f"lrn_param.local_size={size} must be a positive odd number (as Caffe requires)")
    if p.norm_region == 0:  # ACROSS_CHANNELS: x / (k + alpha/size * sum over `size` channels) ** beta
        attrs = {"size": size, "alpha": float(p.alpha), "beta": float(p.beta), "bias": float(p.k)}
        return [b.node("LRN", [x], attrs, out=b.top())]
    # WITHIN_CHANNEL (as Caffe builds it): x * (1 + alpha * mean of x^2 over a size x size window,
    # zero padded) ** -beta; k is not used.
    sq = b.node("Mul", [x, x], tag="square")
    pad = (size - 1) // 2
    avg = b.node("AveragePool", [sq], {"kernel_shape": [size, size], "strides": [1, 1], "pads": [pad] * 4,
                                        "count_include_pad": 1}, tag="window_mean")
    t = b.node("Mul", [avg, b.const("alpha", np.float32(p.alpha))], tag="alpha")
    t = b.node("Add", [t, b.const("one", np.float32(1.0))], tag="shift")
    t = b.node("Pow", [t, b.const("neg_beta", np.float32(-p.beta))], tag="power")
    return [b.node("Mul", [x, t], out=b.top())]


LAYERS = {"BatchNorm": batch_norm, "Scale": scale, "Bias": bias, "LRN": lrn}


def merge_batchnorm_scale(g) -> None:
    """BatchNormalization -> Mul by a per-channel constant [-> Add per-channel constant], each the
    sole consumer of the one before: fold the Mul/Add into the BatchNormalization's gamma/beta.
    One pass (a BatchNormalization merges repeatedly while Scale layers follow it): merging one
    changes nothing another one's pattern depends on, so the consumers are computed once."""
    cons = g.consumers()
    outputs = set(g.outputs)
    dropped: set[int] = set()
    for bn in [n for n in g.nodes if n.op == "BatchNormalization"]:
        c = g.tensors[bn.inputs[0]].shape[1]
        while True:
            nxt = _sole(outputs, cons, bn.outputs[0])
            vec = _channel_const(g, nxt, "Mul", c)
            if vec is None:
                break
            gamma, beta = g.const(bn.inputs[1]) * vec, g.const(bn.inputs[2]) * vec
            drop, out = [nxt], nxt.outputs[0]
            add = _sole(outputs, cons, out)
            shift = _channel_const(g, add, "Add", c)
            if shift is not None:
                beta, out = beta + shift, add.outputs[0]
                drop.append(add)
            bn.inputs[1] = _const_like(g, bn.inputs[1], gamma)
            bn.inputs[2] = _const_like(g, bn.inputs[2], beta)
            bn.outputs[0] = out
            dropped.update(id(n) for n in drop)
    if dropped:
        g.nodes = [n for n in g.nodes if id(n) not in dropped]


def _sole(outputs, cons, tensor):
    users = cons.get(tensor, [])
    return users[0] if len(users) == 1 and tensor not in outputs else None


def _channel_const(g, node, op, c):
    if node is None or node.op != op or len(node.inputs) != 2:
        return None
    v = g.const(node.inputs[1])
    x = g.tensors[node.inputs[0]].shape
    if v is None or v.ndim > len(x) - 1 or v.shape[:1] != (c,) or any(d != 1 for d in v.shape[1:]):
        return None
    return v.reshape(c).astype(np.float32)


def _const_like(g, old: str, value) -> str:
    name = g.fresh_name(old + "_merged")
    g.add_const(name, np.asarray(value, dtype=np.float32))
    return name
