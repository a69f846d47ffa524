"""Shape inference with constant folding, identity removal and dead code elimination."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..errors import LNEError
from ..ops.base import MAX_ELEMENTS, OpError, check_elements


def infer_and_fold(g, options) -> None:
    """Walk nodes in order: canonicalise attributes, infer output shapes, and evaluate any node
    whose inputs are all constant (Shape needs only a static shape) with its numpy reference."""
    check_references(g)
    for name in g.inputs:
        t = g.tensors[name]
        if t.shape is not None and math.prod(t.shape) > MAX_ELEMENTS:
            raise LNEError(f"graph input {name!r} of shape {list(t.shape)} has more than {MAX_ELEMENTS} elements")
    g.toposort()
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
            try:
                with np.errstate(all="ignore"):
                    folded = opdef.reference(node, arrays)
            except LNEError:
                raise
            except Exception as e:
                raise OpError(node, f"cannot evaluate on its constant inputs: {e}") from None
        else:
            folded = None
        if folded is not None:
            for name, value in zip(node.outputs, folded):
                if name:
                    g.add_const(name, np.asarray(value))
            continue
        if opdef.normalize:
            opdef.normalize(node, g)
            ins = [g.tensors[i] if i else None for i in node.inputs]
        for name, (shape, dtype) in zip(node.outputs, opdef.infer(node, ins)):
            if not name:
                continue
            shape = tuple(int(d) for d in shape)
            if any(d <= 0 for d in shape):
                raise OpError(node, f"output {name!r} would have shape {list(shape)}; every dimension must be positive")
            check_elements(node, shape, f"output {name!r}")
            if dtype != "float32" and dtype not in ("int8", "uint8", "int16", "uint16"):  # quantized
                raise OpError(node, f"output {name!r} is {dtype} at run time; LNE computes float32 tensors only")
            t = g.tensors[name]
            t.shape, t.dtype = shape, dtype
        kept.append(node)
    g.nodes = kept
    for name in g.outputs:
        if g.tensors[name].is_const:
            raise LNEError(f"graph output {name!r} is a constant: the model computes nothing from its inputs")


def check_references(g) -> None:
    """Every name a node reads or the graph outputs must be defined somewhere."""
    from ..ir import GraphError

    for node in g.nodes:
        for i in node.inputs:
            if i and i not in g.tensors:
                raise GraphError(f"node {node.name!r} ({node.op}) reads tensor {i!r}, which no node, input "
                                 "or initializer defines")
    for o in g.outputs:
        if o not in g.tensors:
            raise GraphError(f"graph output {o!r} is not defined by any node, input or initializer")


def _shape_of(node, t):
    start, end = node.attrs.get("start", 0), node.attrs.get("end")
    return np.array(t.shape[start:end], dtype=np.int64)


def skip_identities(g, options) -> None:
    """Identity and Dropout pass their input through: rewire their consumers to it."""
    rename = {}
    kept = []
    for node in g.nodes:
        if node.op in ("Identity", "Dropout") and node.outputs[0] not in g.outputs:
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
