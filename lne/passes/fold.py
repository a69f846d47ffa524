"""Shape inference with constant folding, identity removal and dead code elimination.

Folding runs numpy on constants a model describes in a few bytes (ConstantOfShape, broadcasts,
Range, a Conv on constant inputs...), so its cost is checked before any value is computed: the
output shapes are inferred first (per tensor at most limits.MAX_ELEMENTS elements, all folded
constants together within a byte budget) and the work of a node (multiply-accumulates) is
bounded; past a limit the compile stops with an error naming the node."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..errors import LNEError
from ..ir import Tensor
from ..limits import MAX_ELEMENTS, show
from ..ops.base import OpError, check_elements
from ..ops.shape import DTYPES

# Folded constants, all together: a base for shape arithmetic and masks, plus room for what a
# model derives from its own weights (dequantized int8 weights are 4x their bytes).
FOLD_BASE_BYTES = 128 << 20
FOLD_WEIGHT_FACTOR = 4
MAX_FOLD_MACS = 10**9          # one folded node (numpy reference: about a second)
MAX_FOLD_MACS_TOTAL = 2 * 10**9  # every folded node of the model


class _FoldBudget:
    def __init__(self, g):
        weights = sum(t.data.nbytes for t in g.tensors.values() if t.data is not None)
        self.max_bytes = FOLD_BASE_BYTES + FOLD_WEIGHT_FACTOR * weights
        self.bytes = 0
        self.macs = 0

    def check(self, node, outs: list[tuple[tuple[int, ...], int]], macs: int) -> None:
        """Refuse, before computing it, a folded value too large or too costly to compute."""
        total = 0
        for shape, itemsize in outs:
            if any(d < 0 for d in shape):
                continue  # the reference reports the negative dimension
            n = math.prod(shape)
            if n > MAX_ELEMENTS:
                raise OpError(node, f"folding it on its constant inputs would make a tensor of shape {list(shape)} "
                                    f"({n} elements); LNE folds tensors of at most {MAX_ELEMENTS} elements")
            total += n * itemsize
        if self.bytes + total > self.max_bytes:
            raise OpError(node, f"folding it on its constant inputs would make {total} bytes of constants "
                                f"({self.bytes} folded before it); this model may fold at most {self.max_bytes} "
                                "bytes (LNE bounds constant folding)")
        if macs > MAX_FOLD_MACS or self.macs + macs > MAX_FOLD_MACS_TOTAL:
            raise OpError(node, f"folding it on its constant inputs would take {macs} multiply-accumulates "
                                f"(at most {MAX_FOLD_MACS} per node and {MAX_FOLD_MACS_TOTAL} per model); "
                                "LNE does not evaluate that much at compile time")
        self.macs += macs

    def add(self, value: np.ndarray) -> None:
        self.bytes += value.nbytes


def _itemsize(dtype) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 8


def _broadcast(*shapes):
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        return None  # the reference reports the mismatch (numpy checks before allocating)


def _int_values(a) -> list[int] | None:
    if a is None or a.dtype.kind not in "iu" or a.ndim > 1 or a.size > 64:
        return None
    return [int(v) for v in a.reshape(-1)]


def _folded_only_shapes(node, arrays):
    """[(shape, itemsize)] of a shape-arithmetic op's outputs (runtime=False ops have no
    infer()), from the constants' shapes and the few values that set them; None where the
    output is no larger than an input (the reference then checks the rest)."""
    op, a = node.op, node.attrs
    if op == "ConstantOfShape":
        dims = _int_values(arrays[0]) if arrays and arrays[0] is not None else []
        if dims is None:
            raise OpError(node, "the shape input must be a 1-D integer tensor of at most 64 values")
        value = a.get("value")
        return [(tuple(dims), value.dtype.itemsize if isinstance(value, np.ndarray) else 4)]
    if op == "Range":
        if len(arrays) != 3 or any(x is None or x.size != 1 for x in arrays):
            raise OpError(node, "Range takes three scalars (start, limit, delta)")
        start, limit, delta = (float(x.reshape(-1)[0]) for x in arrays)
        if delta == 0 or not all(math.isfinite(v) for v in (start, limit, delta)):
            raise OpError(node, f"Range({start}, {limit}, {delta}) is not a finite range")
        return [((max(0, math.ceil((limit - start) / delta)),), arrays[0].dtype.itemsize)]
    if op == "Gather":
        data, idx = arrays
        axis = int(a.get("axis", 0))
        if data is None or idx is None or not -data.ndim <= axis < max(data.ndim, 1):
            return None
        axis %= max(data.ndim, 1)
        return [(data.shape[:axis] + idx.shape + data.shape[axis + 1:], data.dtype.itemsize)]
    if op == "Equal":
        shape = _broadcast(arrays[0].shape, arrays[1].shape)
        return None if shape is None else [(shape, 1)]
    if op == "Where":
        shape = _broadcast(*(x.shape for x in arrays))
        return None if shape is None else [(shape, max(arrays[1].dtype.itemsize, arrays[2].dtype.itemsize))]
    if op == "Cast":
        to = a.get("to")
        return [(arrays[0].shape, _itemsize(DTYPES.get(to, "float64")))]
    if op in ("Floor", "Ceil", "Sqrt", "Slice"):
        return [(arrays[0].shape, arrays[0].dtype.itemsize)]
    return None  # Constant: its value is in the file already


def _fold_cost(node, opdef, g, arrays):
    """(output shapes and item sizes, multiply-accumulates) of folding ``node``, from shapes."""
    if not opdef.runtime:
        try:
            return _folded_only_shapes(node, arrays) or [], 0
        except LNEError:
            raise
        except Exception:  # malformed operands (an omitted one...): the reference says what is wrong
            return [], 0
    ins = [g.tensors[i] if i else None for i in node.inputs]
    try:
        inferred = opdef.infer(node, ins)
    except OpError:
        if opdef.category != "elementwise":
            raise
        shape = _broadcast(*(t.shape for t in ins if t is not None))  # e.g. Relu on int64 constants
        inferred = [] if shape is None else [(shape, "float64")]
    except Exception as e:  # an op that cannot say: it could not be evaluated either
        raise OpError(node, f"cannot evaluate on its constant inputs: {str(e)[:200]}") from None
    outs = [(tuple(int(d) for d in shape), _itemsize(dtype)) for shape, dtype in inferred]
    out_tensors = [Tensor(f"out{k}", shape, "float32") for k, (shape, _) in enumerate(outs)]
    macs = int(opdef.macs(node, ins, out_tensors)) if out_tensors else 0
    if node.op == "LRN" and ins and ins[0] is not None and len(ins[0].shape) >= 2:
        macs = max(macs, ins[0].size * min(int(node.attrs.get("size", 1)), ins[0].shape[1]))
    return outs, macs


def infer_and_fold(g, options) -> None:
    """Walk nodes in order: canonicalise attributes, infer output shapes, and evaluate any node
    whose inputs are all constant (Shape needs only a static shape) with its numpy reference,
    once its output sizes and work are known to be within bounds (_FoldBudget)."""
    check_references(g)
    for name in g.inputs:
        t = g.tensors[name]
        if t.shape is not None and math.prod(t.shape) > MAX_ELEMENTS:
            raise LNEError(f"graph input {show(name)} of shape {list(t.shape)} has more than {MAX_ELEMENTS} "
                           "elements")
    g.toposort()
    budget = _FoldBudget(g)
    kept = []
    for node in g.nodes:
        opdef = ops.get(node.op)
        ins = [g.tensors[i] if i else None for i in node.inputs]
        if node.op == "Shape":
            folded = [_shape_of(node, ins[0])]
        elif all(t is None or t.is_const for t in ins):
            if opdef.normalize:
                opdef.normalize(node, g)
            arrays = [g.const(i) if i else None for i in node.inputs]
            budget.check(node, *_fold_cost(node, opdef, g, arrays))
            try:
                with np.errstate(all="ignore"):
                    folded = opdef.reference(node, arrays)
            except LNEError:
                raise
            except MemoryError:
                raise OpError(node, "not enough memory to evaluate it on its constant inputs") from None
            except Exception as e:
                raise OpError(node, f"cannot evaluate on its constant inputs: {str(e)[:200]}") from None
        else:
            folded = None
        if folded is not None:
            for name, value in zip(node.outputs, folded):
                if name:
                    value = np.asarray(value)
                    if value.size > MAX_ELEMENTS:
                        raise OpError(node, f"output {show(name)} has {value.size} elements; LNE folds tensors "
                                            f"of at most {MAX_ELEMENTS}")
                    if node.op != "Constant":
                        budget.add(value)
                    g.add_const(name, value)
            continue
        if opdef.normalize:
            opdef.normalize(node, g)
            ins = [g.tensors[i] if i else None for i in node.inputs]
        for name, (shape, dtype) in zip(node.outputs, opdef.infer(node, ins)):
            if not name:
                continue
            shape = tuple(int(d) for d in shape)
            if any(d <= 0 for d in shape):
                raise OpError(node, f"output {show(name)} would have shape {list(shape)}; every dimension must be "
                                    "positive")
            if math.prod(shape) > MAX_ELEMENTS:
                check_elements(node, shape, f"output {show(name)}")
            if dtype != "float32" and dtype not in ("int8", "uint8", "int16", "uint16"):  # quantized
                raise OpError(node, f"output {show(name)} is {dtype} at run time; LNE computes float32 tensors only")
            t = g.tensors[name]
            t.shape, t.dtype = shape, dtype
        kept.append(node)
    g.nodes = kept
    for name in g.outputs:
        if g.tensors[name].is_const:
            raise LNEError(f"graph output {show(name)} is a constant: the model computes nothing from its inputs")


def check_references(g) -> None:
    """Every name a node reads or the graph outputs must be defined somewhere."""
    from ..ir import GraphError

    for node in g.nodes:
        for i in node.inputs:
            if i and i not in g.tensors:
                raise GraphError(f"node {show(node.name)} ({node.op}) reads tensor {show(i)}, which no node, input "
                                 "or initializer defines")
    for o in g.outputs:
        if o not in g.tensors:
            raise GraphError(f"graph output {show(o)} is not defined by any node, input or initializer")


def _shape_of(node, t):
    start, end = node.attrs.get("start", 0), node.attrs.get("end")
    return np.array(t.shape[start:end], dtype=np.int64)


def skip_identities(g, options) -> None:
    """Identity and Dropout pass their input through: rewire their consumers to it."""
    rename = {}
    kept = []
    outputs = set(g.outputs)
    for node in g.nodes:
        if node.op in ("Identity", "Dropout") and node.outputs[0] not in outputs:
            rename[node.outputs[0]] = rename.get(node.inputs[0], node.inputs[0])
            continue
        node.inputs = [rename.get(i, i) for i in node.inputs]
        kept.append(node)
    g.nodes = kept


def eliminate_dead_code(g, options) -> None:
    """Drop nodes nothing needs and tensors nothing references."""
    live = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(o in live for o in node.outputs if o):
            kept.append(node)
            live.update(i for i in node.inputs if i)
    g.nodes = kept[::-1]
    used = live | set(g.inputs) | {o for n in g.nodes for o in n.outputs if o}
    g.tensors = {k: t for k, t in g.tensors.items() if k in used}
