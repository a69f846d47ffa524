"""The kernel registry, keyed by (op, dtype, isa, variant).

A KernelDef says which runtime header implements it, when it applies to a node, how much
scratch memory it needs, which inputs its output may overwrite, and how to emit its call.
Plugins add kernels with `register`; choosing among them is the select_kernels pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def _always(node, g) -> bool:
    return True


def _no_scratch(node, g) -> int:
    return 0


@dataclass(frozen=True)
class KernelDef:
    op: str
    variant: str
    header: str | None          # runtime header, relative to runtime/ (None: emits no code)
    emit: Callable              # (Emitter) -> C++ statement(s)
    family: str = ""            # name prefix, e.g. conv2d
    dtype: str = "float32"
    isa: str = "generic"        # generic | avx2 | neon
    applies: Callable = _always
    scratch: Callable = _no_scratch  # bytes
    priority: int = 0           # the default heuristic picks the highest that applies
    inplace: bool = True        # may the output overwrite an input the op allows?
    plugin: str | None = None   # acceleration library it needs (lne/plugins); None: core runtime
    prepare: Callable | None = None  # (node, g) -> {input index: packed constant name}: compile-time
                                     # weight transforms (packing, Winograd); the kernel reads those
    layout: str = "nchw"        # layout of the node's run-time tensors it reads and writes: "nchw",
                                # "nchw8c", "any" (elementwise over same-shaped operands) or "mixed"
                                # (applies() checks: layout conversions)
    exact: bool = True          # for integer ops: computes the op's integer semantics bit for bit?
                                # (False: an fp32 stand-in, within one step; `compile --exact` skips it)

    @property
    def name(self) -> str:
        short = {"float32": "f32"}.get(self.dtype, self.dtype)
        isa = "" if self.isa == "generic" else f"__{self.isa}"
        return f"{self.family or self.op.lower()}_{short}_{self.variant}{isa}"


_KERNELS: dict[tuple[str, str], KernelDef] = {}  # (op, kernel name); one kernel may serve several ops
_BY_OP: dict[str, list[KernelDef]] = {}  # op -> its kernels in registration order (for_op per node)


def register(k: KernelDef) -> KernelDef:
    assert (k.op, k.name) not in _KERNELS, k.name
    _KERNELS[(k.op, k.name)] = k
    _BY_OP.setdefault(k.op, []).append(k)
    return k


def get(op: str, name: str) -> KernelDef:
    return _KERNELS[(op, name)]


def for_op(op: str) -> list[KernelDef]:
    return list(_BY_OP.get(op, ()))


def all_kernels() -> list[KernelDef]:
    return list(_KERNELS.values())


# -- emission helpers --------------------------------------------------------------------------
def c_float(v: float) -> str:
    if type(v) is float and v == 0.0 and math.copysign(1.0, v) > 0:
        return "0.000000000e+00f"  # the common case (activation parameters), without numpy
    v = float(np.float32(v))
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return f"{v:.9e}f"


def c_value(v) -> str:
    t = type(v)
    if t is int:
        return str(v)
    if t is list or t is tuple or isinstance(v, (list, tuple)):
        return "{" + ", ".join([c_value(x) for x in v]) + "}"
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return c_float(v)
    raise TypeError(f"cannot emit {v!r}")


def c_act(act) -> list:
    """An lne::Act initializer for a fused activation triple (or none)."""
    if act is None:
        return [0, 0.0, 0.0]
    from ..ops.activation import ACT_KINDS

    kind, alpha, beta = act
    return [ACT_KINDS[kind], float(alpha), float(beta)]


@dataclass
class Emitter:
    """What a kernel's emit function sees: the node, the graph, pointer expressions for its
    operands, and a place to declare constant parameter structs."""
    node: object
    graph: object
    inputs: list[str]          # C++ pointer expressions (nullptr for an omitted operand)
    outputs: list[str]
    scratch: str
    uid: int
    decls: list[str] = field(default_factory=list)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.graph.tensors[name].shape

    def in_shape(self, i: int):
        return self.shape(self.node.inputs[i])

    def out_shape(self, i: int = 0):
        return self.shape(self.node.outputs[i])

    def params(self, ctype: str, fields: list) -> str:
        name = f"kP{self.uid}"
        self.decls.append(f"static const {ctype} {name} = {c_value(fields)};")
        return name
