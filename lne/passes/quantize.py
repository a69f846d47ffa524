"""QDQ models (ONNX QuantizeLinear / DequantizeLinear, as onnxruntime's quantize_static or
`lne quantize` write them) -> integer ops.

A DequantizeLinear of a constant (int8 / int16 weights, int32 biases) is folded to float by
infer_and_fold like any constant expression; its normalize() keeps the integer data, scales
and zero points in g.qconsts under the folded tensor's name, so this pass gets the exact
integers back.

quantize_qdq (after activation fusion) rewrites
  DQ(x_q) -> Conv | Gemm | MatMul (fused Relu / Clip) -> Q          into QConv / QGemm
  DQ(x_q) -> Gemm | MatMul -> float (no Q: e.g. the logits)          into QGemm with a float output
  DQ(a_q), DQ(b_q) -> Add (fused Relu) -> Q                          into QAdd
  DQ(x_q) -> GlobalAveragePool -> Q                                  into QGlobalAveragePool
  DQ(x_q) -> MaxPool | Reshape | Flatten | Squeeze | Unsqueeze | Concat -> Q, one scale / zero
  point in and out                                                   into the op on x_q itself
Anything else stays DQ -> float op -> Q, and the leftover Q / DQ nodes run as elementwise
kernels, so every QDQ model compiles and computes what onnxruntime computes.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import LNEError

from ..ops.activation import FLT_MAX, act_of
from ..ops.quant import RANGE, qadd_constants, quantize as np_quantize

SAME_SCALE_OPS = ("MaxPool", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat")


def _per_tensor(node) -> bool:
    return len(node.attrs.get("scale", ())) == 1


def _act_qparams(node):
    """(scale, zp, dtype) of a per-tensor Q or DQ node."""
    a = node.attrs
    return float(a["scale"][0]), int(a["zp"][0]), a["qdtype"]


def _clamp(act, y_scale, y_zp, dtype):
    lo, hi = RANGE[dtype]
    if act is None:
        return lo, hi
    kind, alpha, beta = act
    if kind == "Relu":
        return max(lo, y_zp), hi
    if kind == "Clip":
        bounded = lambda v: np.isfinite(v) and abs(v) < FLT_MAX  # noqa: E731 (Clip's default: the float range)
        qa = int(np_quantize(np.float32(alpha), np.float32(y_scale), y_zp, dtype)) if bounded(alpha) else lo
        qb = int(np_quantize(np.float32(beta), np.float32(y_scale), y_zp, dtype)) if bounded(beta) else hi
        return max(lo, qa), min(hi, qb)
    return None


class _Rewriter:
    """The patterns, with producer / consumer maps kept up to date as nodes are rewritten
    (``commit``): linear in the graph, where recomputing them per rewrite was quadratic."""

    def __init__(self, g):
        self.g = g
        self.outputs = set(g.outputs)
        self.prods = g.producers()
        self._cons: dict[str, dict[int, list]] = {}  # tensor -> {id(node): [node, times it reads it]}
        for n in g.nodes:
            self._read(n, n.inputs, +1)
        self.qconsts = getattr(g, "qconsts", {})
        self.removed: set[int] = set()

    def _read(self, node, names, step: int) -> None:
        for name in names:
            if not name:
                continue
            users = self._cons.setdefault(name, {})
            entry = users.setdefault(id(node), [node, 0])
            entry[1] += step
            if entry[1] <= 0:
                del users[id(node)]

    def consumers(self, name) -> list:
        """The nodes reading ``name``, a node once per read (as Graph.consumers())."""
        return [n for n, times in self._cons.get(name, {}).values() for _ in range(times)]

    def touched(self, node) -> list:
        """The nodes a pattern on ``node`` may rewrite or remove: the node, the Q that alone
        consumes its output, the DQ feeding its first input and (a clamp merged into it) the
        integer op behind that DQ."""
        out = [node]
        cs = self.consumers(node.outputs[0]) if node.outputs and node.outputs[0] else []
        if len(cs) == 1 and cs[0].op == "QuantizeLinear":
            out.append(cs[0])
        dq = self.prods.get(node.inputs[0]) if node.inputs and node.inputs[0] else None
        if dq is not None and dq.op == "DequantizeLinear":
            out.append(dq)
            host = self.prods.get(dq.inputs[0])
            if host is not None and host.op in ("QConv", "QGemm", "QAdd"):
                out.append(host)
        return out

    def snapshot(self, nodes) -> dict:
        return {id(n): (n, list(n.inputs), list(n.outputs)) for n in nodes if n is not None}

    def commit(self, before: dict) -> None:
        """Bring the maps up to date for the nodes of ``before`` (their inputs / outputs then),
        which a rewrite changed or removed."""
        for n, ins, outs in before.values():
            self._read(n, ins, -1)
            for o in outs:
                if o and self.prods.get(o) is n:
                    del self.prods[o]
        for n, _, _ in before.values():
            if id(n) in self.removed:
                continue
            self._read(n, n.inputs, +1)
            for o in n.outputs:
                if o:
                    self.prods[o] = n

    def dq_input(self, name):
        """The per-tensor DQ producing `name`, or None."""
        p = self.prods.get(name)
        if p is not None and p.op == "DequantizeLinear" and _per_tensor(p) and not self.g.tensors[p.inputs[0]].is_const:
            return p
        return None

    def sole_q(self, name):
        """The per-tensor Q that alone consumes `name`, or None."""
        if name in self.outputs:
            return None
        cs = self.consumers(name)
        if len(cs) == 1 and cs[0].op == "QuantizeLinear" and _per_tensor(cs[0]):
            return cs[0]
        return None

    def weights(self, name, n_out: int, axis: int):
        """(int weights, per-output-channel scales) of a recorded symmetric constant, or None."""
        r = self.qconsts.get(name)
        if r is None or np.any(r["zp"] != 0) or str(r["q"].dtype) not in ("int8", "int16"):
            return None
        s = r["scale"].reshape(-1)
        if s.size == 1:
            s = np.repeat(s, n_out)
        elif s.size != n_out or r["axis"] % r["q"].ndim != axis:
            return None
        return r["q"], s.astype(np.float64)

    def bias(self, name, acc_scale: np.ndarray):
        """int32 bias in the accumulator's scale (x_scale * w_scale): the recorded integers when
        their scale is that one, else the float bias rounded to it."""
        if not name:
            return None
        r = self.qconsts.get(name)
        if r is not None and str(r["q"].dtype) == "int32" and np.all(r["zp"] == 0):
            bs = np.broadcast_to(r["scale"].reshape(-1).astype(np.float64), acc_scale.shape)
            if np.allclose(bs, acc_scale, rtol=1e-5, atol=0):
                return r["q"].reshape(-1).astype(np.int32)
        b = self.g.const(name)
        if b is None:
            return False
        b = np.asarray(b, np.float64).reshape(-1)
        if b.size != acc_scale.size:
            return False
        return np.clip(np.rint(b / acc_scale), -2**31, 2**31 - 1).astype(np.int32)

    def replace(self, node, op, inputs, output, attrs):
        node.op, node.inputs, node.outputs, node.attrs, node.kernel = op, inputs, [output], attrs, None

    # -- patterns ---------------------------------------------------------------------------
    def linear(self, node) -> bool:
        g = self.g
        dq = self.dq_input(node.inputs[0])
        q = self.sole_q(node.outputs[0])
        # a Gemm / MatMul whose output stays float (a classifier's logits) keeps its weights in
        # int8 too: QGemm with a float output (y = float(acc) * x_scale * w_scale)
        float_out = q is None and node.op != "Conv" and node.attrs.get("act") is None
        if dq is None or (q is None and not float_out):
            return False
        xs, xz, xdt = _act_qparams(dq)
        ys, yz, ydt = _act_qparams(q) if q is not None else (1.0, 0, "float32")
        if node.op == "Conv":
            wname = node.inputs[1]
            n_out, axis = g.tensors[node.outputs[0]].shape[1], 0
        elif node.op == "Gemm":
            a = node.attrs
            if a["transA"] or a["alpha"] != 1.0 or (node.input(2) and a["beta"] != 1.0):
                return False
            wname, axis = node.inputs[1], 0 if a["transB"] else 1
            n_out = g.tensors[node.outputs[0]].shape[1]
        else:  # MatMul by a 2-D constant
            wname, axis = node.inputs[1], 1
            if g.tensors[wname].shape is None or len(g.tensors[wname].shape) != 2 or len(g.tensors[node.inputs[0]].shape) < 2:
                return False
            n_out = g.tensors[wname].shape[1]
        rec = self.weights(wname, n_out, axis)
        if rec is None:
            return False
        wq, ws = rec
        wide = xdt in ("int16", "uint16")
        if wide != (str(wq.dtype) == "int16") or ydt not in ("int8", "uint8", "int16", "float32"):
            return False
        clamp = (0, 0) if float_out else _clamp(node.attrs.get("act"), ys, yz, ydt)
        if clamp is None:
            return False
        acc_scale = xs * ws
        bias = self.bias(node.input(2), acc_scale)
        if bias is False:
            return False
        # float32 arithmetic, as onnxruntime's QLinearConv / QGemm derive their output scales
        mult = (np.float32(xs) * ws.astype(np.float32)) / np.float32(ys)
        attrs = {"x_zp": xz, "y_zp": yz, "lo": clamp[0], "hi": clamp[1], "y_dtype": ydt,
                 "mult": [float(v) for v in mult], "x_scale": xs, "y_scale": ys}
        if node.op == "Conv":
            attrs.update({k: node.attrs[k] for k in ("kernel_shape", "strides", "dilations", "pads", "group")})
            w_name = g.add_const(g.fresh_name(wname + "_q"), np.ascontiguousarray(wq)).name
            op = "QConv"
        else:
            w2 = wq.T if axis == 1 else wq  # QGemm reads w as [n, k]
            w_name = g.add_const(g.fresh_name(wname + "_q"), np.ascontiguousarray(w2)).name
            op = "QGemm"
        inputs = [dq.inputs[0], w_name]
        if bias is not None:
            inputs.append(g.add_const(g.fresh_name((node.input(2) or node.name) + "_q"), bias).name)
        self.replace(node, op, inputs, node.outputs[0] if float_out else q.outputs[0], attrs)
        if q is not None:
            self.removed.add(id(q))
        return True

    def add(self, node) -> bool:
        da, db = self.dq_input(node.inputs[0]), self.dq_input(node.input(1))
        q = self.sole_q(node.outputs[0])
        if da is None or db is None or q is None:
            return False
        if self.g.tensors[da.inputs[0]].shape != self.g.tensors[db.inputs[0]].shape:
            return False
        (sa, za, _), (sb, zb, _), (ys, yz, ydt) = _act_qparams(da), _act_qparams(db), _act_qparams(q)
        clamp = _clamp(node.attrs.get("act"), ys, yz, ydt)
        if clamp is None:
            return False
        ra, rb, k = qadd_constants(sa, za, sb, zb, ys, yz)
        attrs = {"ra": ra, "rb": rb, "k": k, "lo": clamp[0], "hi": clamp[1], "y_dtype": ydt}
        self.replace(node, "QAdd", [da.inputs[0], db.inputs[0]], q.outputs[0], attrs)
        self.removed.add(id(q))
        return True

    def global_avg(self, node) -> bool:
        dq, q = self.dq_input(node.inputs[0]), self.sole_q(node.outputs[0])
        if dq is None or q is None:
            return False
        (xs, xz, _), (ys, yz, ydt) = _act_qparams(dq), _act_qparams(q)
        hw = math.prod(self.g.tensors[node.inputs[0]].shape[2:])
        lo, hi = RANGE[ydt]
        attrs = {"x_zp": xz, "mult": float(np.float32(xs) / (np.float32(ys) * np.float32(hw))), "y_zp": yz, "lo": lo, "hi": hi,
                 "y_dtype": ydt}
        self.replace(node, "QGlobalAveragePool", [dq.inputs[0]], q.outputs[0], attrs)
        self.removed.add(id(q))
        return True

    def clamp(self, node) -> bool:
        """DQ -> Relu | Clip -> Q, one scale: a clamp on the integers, merged into the integer
        op producing them when nothing else reads its output."""
        dq, q = self.dq_input(node.inputs[0]), self.sole_q(node.outputs[0])
        if dq is None or q is None or _act_qparams(dq) != _act_qparams(q):
            return False
        s, z, dt = _act_qparams(q)
        bounds = _clamp(act_of(node), s, z, dt)
        if bounds is None:
            return False
        xq = dq.inputs[0]
        host = self.prods.get(xq)
        if (host is not None and host.op in ("QConv", "QGemm", "QAdd") and xq not in self.outputs
                and len(self.consumers(xq)) == 1 and len(self.consumers(dq.outputs[0])) == 1):
            host.attrs["lo"], host.attrs["hi"] = max(host.attrs["lo"], bounds[0]), min(host.attrs["hi"], bounds[1])
            host.outputs = [q.outputs[0]]
            self.removed.update({id(dq), id(node), id(q)})
            return True
        self.replace(node, "QClamp", [xq], q.outputs[0], {"lo": bounds[0], "hi": bounds[1]})
        self.removed.add(id(q))
        return True

    def same_scale(self, node) -> bool:
        """An op that only moves or selects values runs on the integers when every quantized
        input and the output share one (scale, zero point, type)."""
        q = self.sole_q(node.outputs[0])
        if q is None:
            return False
        data = node.inputs if node.op == "Concat" else node.inputs[:1]
        dqs = [self.dq_input(i) for i in data]
        if any(d is None for d in dqs) or any(_act_qparams(d) != _act_qparams(q) for d in dqs):
            return False
        if node.op == "MaxPool" and len(node.outputs) > 1 and node.outputs[1]:
            return False
        node.inputs = [d.inputs[0] for d in dqs] + list(node.inputs[len(data):])
        node.outputs = [q.outputs[0]] + list(node.outputs[1:])
        node.kernel = None
        self.removed.add(id(q))
        return True


def quantize_qdq(g, options) -> None:
    for name in g.outputs:
        if g.tensors[name].dtype != "float32":
            raise LNEError(f"graph output {name!r} is {g.tensors[name].dtype}: LNE bundles return float32 tensors "
                           "(end the model with DequantizeLinear)")
    if not any(n.op == "QuantizeLinear" for n in g.nodes):
        return
    rw = _Rewriter(g)
    for node in list(g.nodes):
        if id(node) in rw.removed:
            continue
        before = rw.snapshot(rw.touched(node))
        if node.op in ("Conv", "Gemm", "MatMul") and g.const(node.input(1)) is not None:
            done = rw.linear(node)
        elif node.op == "Add":
            done = rw.add(node)
        elif node.op == "GlobalAveragePool":
            done = rw.global_avg(node)
        elif node.op in ("Relu", "Clip"):
            done = rw.clamp(node)
        elif node.op in SAME_SCALE_OPS:
            done = rw.same_scale(node)
        else:
            done = False
        if done:  # later patterns see this node's new output producer
            rw.commit(before)
    if rw.removed:
        g.nodes = [n for n in g.nodes if id(n) not in rw.removed]
