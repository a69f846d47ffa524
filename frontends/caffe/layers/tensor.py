"""Data-flow layers: Concat, Eltwise (SUM with coeff, PROD, MAX), Softmax, Dropout, Flatten,
Reshape, Split (aliases), Slice (IR Split), Permute (Transpose)."""
from __future__ import annotations

import numpy as np

from lne.limits import show

from .common import axis

PROD, SUM, MAX = 0, 1, 2


def concat(b) -> list[str]:
    p = b.layer.concat_param
    xs = b.bottoms()
    if not xs:
        raise b.error("needs at least one bottom")
    rank = len(b.shape(xs[0]))
    a = axis(b, p.concat_dim if p.HasField("concat_dim") and not p.HasField("axis") else p.axis, rank,
             "concat_param.axis")
    if len(xs) == 1:
        return [xs[0]]
    return [b.node("Concat", xs, {"axis": a}, out=b.top())]


def eltwise(b) -> list[str]:
    layer, p = b.layer, b.layer.eltwise_param
    xs = b.bottoms()
    if len(xs) < 2:
        raise b.error(f"needs at least two bottoms, has {len(xs)}")
    for blob, x in zip(layer.bottom[1:], xs[1:]):
        if b.shape(x) != b.shape(xs[0]):
            raise b.error(f"bottom {show(blob)} has shape {list(b.shape(x))} but bottom {show(layer.bottom[0])} has "
                          f"{list(b.shape(xs[0]))}; Eltwise needs equal shapes")
    coeff = list(p.coeff)
    if coeff and p.operation != SUM:
        raise b.error("eltwise_param.coeff applies to operation SUM only")
    if coeff and len(coeff) != len(xs):
        raise b.error(f"eltwise_param.coeff has {len(coeff)} values for {len(xs)} bottoms")
    if p.operation == MAX:
        return [b.node("Max", xs, out=b.top())]
    if p.operation == PROD:
        steps = [("Mul", x) for x in xs[1:]]
        acc = xs[0]
    else:
        coeff = coeff or [1.0] * len(xs)
        acc = xs[0] if coeff[0] == 1 else b.node("Mul", [xs[0], b.const("coeff0", np.float32(coeff[0]))],
                                                  tag="coeff0")
        steps = []
        for i, (c, x) in enumerate(zip(coeff[1:], xs[1:]), 1):
            if c == 1 or c == -1:
                steps.append(("Add" if c == 1 else "Sub", x))
            else:
                steps.append(("Add", b.node("Mul", [x, b.const(f"coeff{i}", np.float32(c))], tag=f"coeff{i}")))
    for i, (op, x) in enumerate(steps):
        last = i == len(steps) - 1
        acc = b.node(op, [acc, x], out=b.top() if last else None, tag=None if last else f"{op.lower()}{i}")
    return [acc]


def softmax(b) -> list[str]:
    x = b.bottom(0)
    a = axis(b, b.layer.softmax_param.axis, len(b.shape(x)), "softmax_param.axis")
    return [b.node("Softmax", [x], {"axis": a}, out=b.top())]


def dropout(b) -> list[str]:
    p = b.layer.dropout_param
    x = b.bottom(0)
    if p.scale_train:  # Caffe scales during training, so inference passes data through
        return [x]
    return [b.node("Mul", [x, b.const("keep", np.float32(1.0 - p.dropout_ratio))], out=b.top())]


def flatten(b) -> list[str]:
    p = b.layer.flatten_param
    x = b.bottom(0)
    shape = b.shape(x)
    start = axis(b, p.axis, len(shape), "flatten_param.axis")
    end = axis(b, p.end_axis, len(shape), "flatten_param.end_axis")
    if end < start:
        raise b.error(f"flatten_param.end_axis={p.end_axis} comes before axis={p.axis}")
    out = list(shape[:start]) + [int(np.prod(shape[start:end + 1], dtype=np.int64))] + list(shape[end + 1:])
    return [b.node("Reshape", [x], {"shape": out}, out=b.top())]


def reshape(b) -> list[str]:
    p = b.layer.reshape_param
    x = b.bottom(0)
    shape = b.shape(x)
    start = axis(b, p.axis, len(shape), "reshape_param.axis", allow_end=True)
    if p.num_axes < -1 or (p.num_axes >= 0 and start + p.num_axes > len(shape)):
        raise b.error(f"reshape_param.num_axes={p.num_axes} does not fit the bottom shape {list(shape)}")
    end = len(shape) if p.num_axes == -1 else start + p.num_axes
    spec = [int(d) for d in p.shape.dim]
    if spec.count(-1) > 1 or any(d < -1 for d in spec):
        raise b.error(f"reshape_param.shape {spec}: at most one -1 and no other negative dimension")
    mid = []
    for i, d in enumerate(spec):
        if d == 0:
            if start + i >= len(shape):
                raise b.error(f"reshape_param.shape {spec}: dim {i} copies (0) an axis the bottom does not have")
            d = shape[start + i]
        mid.append(d)
    out = list(shape[:start]) + mid + list(shape[end:])
    total = int(np.prod(shape, dtype=np.int64))
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise b.error(f"reshape_param.shape {spec} cannot hold the bottom's {total} values {list(shape)}")
        out[out.index(-1)] = total // known
    if int(np.prod(out, dtype=np.int64)) != total:
        raise b.error(f"reshape_param.shape {spec} gives {out}, which does not hold the bottom's {total} values")
    return [b.node("Reshape", [x], {"shape": out}, out=b.top())]


def split(b) -> list[str]:
    return [b.bottom(0)] * len(b.layer.top)


def slice_(b) -> list[str]:
    layer, p = b.layer, b.layer.slice_param
    x = b.bottom(0)
    shape = b.shape(x)
    a = p.slice_dim if p.HasField("slice_dim") and not p.HasField("axis") else p.axis
    a = axis(b, a, len(shape), "slice_param.axis")
    dim, parts = shape[a], len(layer.top)
    points = [int(v) for v in p.slice_point]
    if points:
        if len(points) != parts - 1:
            raise b.error(f"slice_param.slice_point has {len(points)} values; {parts} tops need {parts - 1}")
        bounds = [0] + points + [dim]
        if any(lo >= hi for lo, hi in zip(bounds, bounds[1:])):
            raise b.error(f"slice_param.slice_point {points} must increase strictly inside (0, {dim})")
        sizes = [hi - lo for lo, hi in zip(bounds, bounds[1:])]
    else:
        if dim % parts:
            raise b.error(f"axis {a} of size {dim} does not split into {parts} equal parts; give slice_point")
        sizes = [dim // parts] * parts
    if parts == 1:
        return [x]
    return b.node("Split", [x], {"axis": a, "split": sizes}, out=[b.top(k) for k in range(parts)])


def permute(b) -> list[str]:
    x = b.bottom(0)
    rank = len(b.shape(x))
    order = [int(o) for o in b.layer.permute_param.order]
    if len(set(order)) != len(order) or any(o >= rank for o in order):
        raise b.error(f"permute_param.order {order} is not a set of distinct axes of a {rank}-D bottom")
    perm = order + [i for i in range(rank) if i not in order]
    if perm == list(range(rank)):
        return [x]
    return [b.node("Transpose", [x], {"perm": perm}, out=b.top())]


LAYERS = {"Concat": concat, "Eltwise": eltwise, "Softmax": softmax, "Dropout": dropout, "Flatten": flatten,
          "Reshape": reshape, "Split": split, "Slice": slice_, "Permute": permute}
