"""OpDef: everything the compiler knows about one op, declared once.

Passes read these fields and never name ops one by one:
  infer      (node, input tensors) -> [(shape, dtype)] per output
  reference  (node, input arrays)  -> [arrays]; the numpy semantics every kernel is tested against
  macs       (node, input tensors, output tensors) -> multiply-accumulates
  category   elementwise | injective | out-fusable | reduction | opaque | shape
  inplace    input indices whose buffer output 0 may overwrite (same shape and dtype)
  view       output 0 is input 0's bytes under another shape: no code, one buffer
  runtime    False for ops that only exist to be folded at compile time (shape arithmetic)
  normalize  (node, graph) -> None: canonical attributes once shapes/constants are known
             (auto_pad -> explicit pads, constant operands -> attributes)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import LNEError
from ..limits import MAX_ELEMENTS, show

CATEGORIES = ("elementwise", "injective", "out-fusable", "reduction", "opaque", "shape")


def _no_macs(node, ins, outs) -> int:
    return 0


@dataclass(frozen=True)
class OpDef:
    name: str
    category: str
    infer: Callable
    reference: Callable
    macs: Callable = _no_macs
    inplace: tuple[int, ...] = ()
    view: bool = False
    runtime: bool = True
    normalize: Callable | None = None
    internal: bool = False  # made by passes, never read from a model
    doc: str = ""


_REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    assert opdef.category in CATEGORIES, opdef
    assert opdef.name not in _REGISTRY, opdef.name
    _REGISTRY[opdef.name] = opdef
    return opdef


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LNEError(f"op {name!r} is not supported (see `lne supported-ops`)") from None


def all_ops() -> dict[str, OpDef]:
    return dict(_REGISTRY)


class OpError(LNEError):
    def __init__(self, node, msg: str):
        super().__init__(f"node {show(node.name)} ({node.op}): {msg}")


def same_shape(node, ins):
    return [(ins[0].shape, ins[0].dtype)]


# The largest tensor LNE compiles (elements) is limits.MAX_ELEMENTS: kernels index with 32-bit
# ints, and a size check keeps hostile shapes from overflowing int64 arithmetic or exhausting memory.


def check_elements(node, shape, what: str = "output") -> None:
    n = math.prod(int(d) for d in shape)
    if n > MAX_ELEMENTS:
        raise OpError(node, f"{what} shape {list(shape)} has {n} elements; LNE compiles tensors of at most "
                            f"{MAX_ELEMENTS}")


def require_const(node, graph, index: int, what: str):
    """The constant value of input `index`, or a clear error."""
    name = node.input(index)
    if not name:
        return None
    data = graph.const(name)
    if data is None:
        raise OpError(node, f"{what} (input {index}, tensor {show(name)}) must be a constant; "
                            "LNE compiles static graphs")
    return data


def move_const_inputs(node, graph, names: dict[int, str]) -> None:
    """Turn constant operands into attributes: {input index: attribute name}."""
    for index, attr in names.items():
        data = require_const(node, graph, index, attr)
        if data is not None:
            if data.dtype.kind not in "iu" or data.ndim != 1:
                raise OpError(node, f"{attr} (input {index}) must be a 1-D integer tensor, not {data.dtype}"
                                    f"{list(data.shape)}")
            node.attrs[attr] = data.tolist()
    keep = min(names)
    node.inputs = node.inputs[:keep]


def check_rank(node, t, ranks, what="input"):
    if len(t.shape) not in ranks:
        raise OpError(node, f"{what} {show(t.name)} has rank {len(t.shape)}; supported: {sorted(ranks)}")
