"""Graph, Node and Tensor, with topological order, verify() and a text dump.

A Graph owns its tensors by name. A tensor is a graph input, a constant (it has `data`), or
the output of exactly one node. Node inputs may be "" for an omitted optional operand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LNEError


class GraphError(LNEError):
    """The graph breaks an IR invariant (cycle, undefined input, inconsistent shape...)."""


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...] | None = None  # None until shape inference
    dtype: str = "float32"
    data: np.ndarray | None = None  # set for constants
    layout: str = "nchw"  # memory order of a 4-D tensor: "nchw" or blocked "nchw8c" (lne/passes/layout.py)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        """Bytes in memory: a blocked tensor pads its channels to a multiple of 8."""
        size = self.size
        if self.layout == "nchw8c" and size:
            n, c = self.shape[:2]
            size = size // c * (-(-c // 8) * 8)
        return size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    kernel: str | None = None  # chosen by the select_kernels pass

    def input(self, i: int) -> str:
        return self.inputs[i] if i < len(self.inputs) else ""


class Graph:
    def __init__(self, name: str = "model"):
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []

    # -- building -------------------------------------------------------------------------
    def add_tensor(self, t: Tensor) -> Tensor:
        self.tensors[t.name] = t
        return t

    def add_const(self, name: str, data: np.ndarray) -> Tensor:
        data = np.require(data, requirements="C")  # ascontiguousarray would make a scalar 1-D
        return self.add_tensor(Tensor(name, tuple(int(d) for d in data.shape), str(data.dtype), data))

    def fresh_name(self, base: str) -> str:
        name, i = base, 1
        while name in self.tensors:
            name, i = f"{base}_{i}", i + 1
        return name

    # -- queries --------------------------------------------------------------------------
    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        cons: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    cons.setdefault(i, []).append(n)
        return cons

    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name) if name else None
        return t.data if t is not None else None

    # -- order ----------------------------------------------------------------------------
    def toposort(self) -> None:
        """Order nodes so every input is produced before use (stable: keeps the given order
        where it is valid). Raises GraphError naming a node on a cycle."""
        prod = self.producers()
        state: dict[int, int] = {}  # 1 = visiting, 2 = done
        order: list[Node] = []
        for root in self.nodes:
            if state.get(id(root)) == 2:
                continue
            stack = [(root, iter(root.inputs))]
            state[id(root)] = 1
            while stack:
                node, it = stack[-1]
                for name in it:
                    p = prod.get(name)
                    if p is None or state.get(id(p)) == 2:
                        continue
                    if state.get(id(p)) == 1:
                        raise GraphError(f"graph has a cycle through node {p.name!r} (tensor {name!r})")
                    state[id(p)] = 1
                    stack.append((p, iter(p.inputs)))
                    break
                else:
                    stack.pop()
                    state[id(node)] = 2
                    order.append(node)
        self.nodes = order

    # -- invariants -----------------------------------------------------------------------
    def verify(self) -> None:
        """Check the invariants every pass must keep; raise GraphError on the first broken one."""
        from .. import ops  # late import: ops depend on the IR

        defined = set(self.inputs) | {n for n, t in self.tensors.items() if t.is_const}
        for name in self.inputs:
            if name not in self.tensors:
                raise GraphError(f"graph input {name!r} has no tensor")
        seen_outputs: set[str] = set()
        for node in self.nodes:
            for i in node.inputs:
                if i and i not in defined:
                    raise GraphError(f"node {node.name!r} ({node.op}) reads tensor {i!r}, which nothing "
                                     "defines before it (undefined input or cycle)")
            for o in node.outputs:
                if not o:
                    continue
                if o in seen_outputs or o in self.inputs or (o in self.tensors and self.tensors[o].is_const):
                    raise GraphError(f"tensor {o!r} is defined twice (node {node.name!r})")
                seen_outputs.add(o)
                defined.add(o)
                if o not in self.tensors:
                    raise GraphError(f"node {node.name!r} output {o!r} has no tensor")
        for name in self.outputs:
            if name not in defined:
                raise GraphError(f"graph output {name!r} is not produced by any node")
        for node in self.nodes:
            opdef = ops.get(node.op)
            ins = [self.tensors[i] if i else None for i in node.inputs]
            if any(t is not None and t.shape is None for t in ins):
                continue
            expected = opdef.infer(node, ins)
            for o, (shape, dtype) in zip(node.outputs, expected):
                t = self.tensors[o]
                if t.shape is not None and (tuple(t.shape) != tuple(shape) or t.dtype != dtype):
                    raise GraphError(f"node {node.name!r} ({node.op}): output {o!r} is recorded as "
                                     f"{t.dtype}{list(t.shape)} but the op gives {dtype}{list(shape)}")

    # -- dump -----------------------------------------------------------------------------
    def dump(self) -> str:
        def fmt(name: str) -> str:
            if not name:
                return "_"
            t = self.tensors[name]
            shape = "x".join(map(str, t.shape)) if t.shape is not None else "?"
            return f"%{name}:{'const ' if t.is_const else ''}{t.dtype}[{shape}]"

        lines = [f"graph {self.name}("
                 + ", ".join(fmt(i) for i in self.inputs) + ") -> (" + ", ".join(fmt(o) for o in self.outputs) + ")"]
        for n in self.nodes:
            attrs = ", ".join(f"{k}={_short(v)}" for k, v in sorted(n.attrs.items()))
            kernel = f"  [{n.kernel}]" if n.kernel else ""
            lines.append(f"  {', '.join(fmt(o) for o in n.outputs)} = {n.op}({', '.join(fmt(i) for i in n.inputs)})"
                         + (f" {{{attrs}}}" if attrs else "") + f"  # {n.name}{kernel}")
        return "\n".join(lines)


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}"
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return f"[{', '.join(map(str, v[:8]))}, ...]"
    return repr(v)
