"""Graph, Node and Tensor, with topological order, verify() and a text dump.

A Graph owns its tensors by name. A tensor is a graph input, a constant (it has `data`), or
the output of exactly one node. Node inputs may be "" for an omitted optional operand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LNEError
from ..limits import plain, show


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
        return math.prod(self.shape) if self.shape is not None else 0

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
        """An unused tensor name from ``base``: base, base_1, base_2... Where to resume is kept
        per base, so many calls with one base (a weight shared by many nodes) stay linear."""
        memo = self.__dict__.setdefault("_fresh", {})
        i = memo.get(base, 0)
        name = base if i == 0 else f"{base}_{i}"
        while name in self.tensors:
            i += 1
            name = f"{base}_{i}"
        memo[base] = i
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
                        raise GraphError(f"graph has a cycle through node {show(p.name)} (tensor {show(name)})")
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
        """Check the invariants every pass must keep; raise GraphError on the first broken one.
        One walk over the nodes (linear in the graph: it runs after every pass)."""
        from .. import ops  # late import: ops depend on the IR

        tensors = self.tensors
        defined = set(self.inputs)
        defined.update(n for n, t in tensors.items() if t.data is not None)
        for name in self.inputs:
            if name not in tensors:
                raise GraphError(f"graph input {show(name)} has no tensor")
        get_op = ops.get
        for node in self.nodes:
            ins = []
            known = True  # every input shape known: the op's inference can be checked
            for i in node.inputs:
                if not i:
                    ins.append(None)
                    continue
                if i not in defined:
                    raise GraphError(f"node {show(node.name)} ({node.op}) reads tensor {show(i)}, which nothing "
                                     "defines before it (undefined input or cycle)")
                t = tensors[i]
                if t.shape is None:
                    known = False
                ins.append(t)
            outs = node.outputs
            for o in outs:
                if not o:
                    continue
                if o in defined:  # another node's output, a graph input or a constant
                    raise GraphError(f"tensor {show(o)} is defined twice (node {show(node.name)})")
                if o not in tensors:
                    raise GraphError(f"node {show(node.name)} output {show(o)} has no tensor")
                defined.add(o)
            if not known:
                continue
            for o, (shape, dtype) in zip(outs, get_op(node.op).infer(node, ins)):
                if not o:
                    continue
                t = tensors[o]
                if t.shape is not None and (t.dtype != dtype or tuple(t.shape) != tuple(shape)):
                    raise GraphError(f"node {show(node.name)} ({node.op}): output {show(o)} is recorded as "
                                     f"{t.dtype}{list(t.shape)} but the op gives {dtype}{list(shape)}")
        for name in self.outputs:
            if name not in defined:
                raise GraphError(f"graph output {show(name)} is not produced by any node")

    # -- dump -----------------------------------------------------------------------------
    def dump(self) -> str:
        """The IR as text, one node a line. Every name comes from the model: it is printed
        escaped and cut (limits.plain), so a name cannot move the terminal or forge lines."""
        tensors = self.tensors

        def fmt(name: str) -> str:
            if not name:
                return "_"
            t = tensors[name]
            shape = "x".join(map(str, t.shape)) if t.shape is not None else "?"
            return f"%{plain(name)}:{'const ' if t.is_const else ''}{t.dtype}[{shape}]"

        lines = [f"graph {plain(self.name)}("
                 + ", ".join(fmt(i) for i in self.inputs) + ") -> (" + ", ".join(fmt(o) for o in self.outputs) + ")"]
        for n in self.nodes:
            attrs = ", ".join(f"{plain(k)}={_short(v)}" for k, v in sorted(n.attrs.items()))
            kernel = f"  [{n.kernel}]" if n.kernel else ""
            lines.append(f"  {', '.join(fmt(o) for o in n.outputs)} = {n.op}({', '.join(fmt(i) for i in n.inputs)})"
                         + (f" {{{attrs}}}" if attrs else "") + f"  # {plain(n.name)}{kernel}")
        return "\n".join(lines)


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}"
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return f"[{', '.join(_short(x) for x in v[:8])}, ...]"
    if isinstance(v, str):
        return show(v)
    text = repr(v)  # repr escapes control characters; a long value is cut
    return text if len(text) <= 200 else plain(text, 200)
