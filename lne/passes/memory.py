"""Memory planning: every run-time tensor and kernel scratch buffer gets an offset in one arena.

The plan is data. Buffers carry a size, a lifetime [first step, last step] and aliases:
views share their input's buffer, an in-place kernel's output takes over its dying input, and a
Concat's inputs are written by their producers straight into the Concat output (offset slices).
Placement algorithms are chosen by name; the plan keeps the live-set lower bound (the largest
sum of bytes live at one step) and the naive sum (nothing shared) beside the arena size.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import kernels, ops
from ..kernels.tensor import concat_layout

ALIGN = 64


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    name: str
    size: int
    first: int
    last: int
    offset: int = -1


@dataclass
class MemoryPlan:
    algorithm: str
    arena_size: int
    lower_bound: int
    naive_size: int
    offsets: dict[str, int]                 # tensor -> byte offset in the arena
    scratch: dict[str, tuple[int, int]]     # node name -> (offset, bytes)
    buffers: list[Buffer] = field(default_factory=list)


class _Groups:
    """Union-find of tensors that share storage, each member at a byte offset in its root."""

    def __init__(self):
        self.parent: dict[str, tuple[str, int]] = {}

    def find(self, t: str) -> tuple[str, int]:
        root, off = t, 0
        while root in self.parent:
            root, o = self.parent[root]
            off += o
        return root, off

    def join(self, member: str, host: str, offset: int = 0) -> None:
        root, off = self.find(host)
        self.parent[member] = (root, off + offset)

    def members(self, root: str, names) -> list[str]:
        return [t for t in names if self.find(t)[0] == root]


def plan_memory(g, options) -> None:
    debug = bool(options.get("debug"))
    steps = {node.name: i + 1 for i, node in enumerate(g.nodes)}
    end = len(g.nodes) + 1
    runtime = list(g.inputs) + [o for n in g.nodes for o in n.outputs if o]
    nbytes = {t: g.tensors[t].nbytes for t in runtime}
    first = {t: 0 for t in g.inputs}
    last = {t: 0 for t in g.inputs}
    for node in g.nodes:
        for o in node.outputs:
            if o:
                first[o] = last[o] = steps[node.name]
    for node in g.nodes:
        for i in node.inputs:
            if i in last:
                last[i] = max(last[i], steps[node.name])
    for o in g.outputs:
        last[o] = end

    groups = _Groups()
    for node in g.nodes:
        if ops.get(node.op).view:
            groups.join(node.outputs[0], node.inputs[0])
    if not debug:
        _concat_in_place(g, groups, runtime)
        _in_place(g, groups, runtime, steps, last, nbytes)

    members: dict[str, list[str]] = {}
    for t in runtime:
        members.setdefault(groups.find(t)[0], []).append(t)
    buffers = [Buffer(root, _align(nbytes[root]), min(first[m] for m in ms), max(last[m] for m in ms))
               for root, ms in members.items()]
    scratch_bufs = {}
    for node in g.nodes:
        k = kernels.get(node.op, node.kernel)
        size = k.scratch(node, g)
        if size:
            scratch_bufs[node.name] = Buffer(f"scratch:{node.name}", _align(size), steps[node.name], steps[node.name])
    all_bufs = buffers + list(scratch_bufs.values())

    lower = max((sum(b.size for b in all_bufs if b.first <= s <= b.last) for s in range(end + 1)), default=0)
    naive = sum(_align(nbytes[t]) for t in runtime) + sum(b.size for b in scratch_bufs.values())
    if debug:
        algorithm, arena = "sequential", _sequential(all_bufs)
    elif options.get("planner"):
        algorithm = options["planner"]
        arena = ALGORITHMS[algorithm](all_bufs)
    else:  # every algorithm; keep the smallest arena
        best = None
        for name, place in ALGORITHMS.items():
            size = place(all_bufs)
            if best is None or size < best[1]:
                best = (name, size, [b.offset for b in all_bufs])
        algorithm, arena, offsets = best
        for b, off in zip(all_bufs, offsets):
            b.offset = off
    by_root = {b.name: b.offset for b in buffers}
    offsets = {}
    for t in runtime:
        root, off = groups.find(t)
        offsets[t] = by_root[root] + off
    g.plan = MemoryPlan(algorithm, arena, lower, naive, offsets,
                        {n: (b.offset, b.size) for n, b in scratch_bufs.items()}, all_bufs)


def _concat_in_place(g, groups: _Groups, runtime) -> None:
    """Let producers write Concat inputs straight into the output when each input is a block."""
    prods, cons = g.producers(), g.consumers()
    for node in g.nodes:
        if node.op != "Concat":
            continue
        outer, inner = concat_layout(node, g)
        ok = outer == 1 and len(set(node.inputs)) == len(node.inputs)
        for t in node.inputs:
            p = prods.get(t)
            ok = ok and p is not None and not ops.get(p.op).view and t not in g.outputs \
                and len(cons.get(t, [])) == 1 and len(groups.members(groups.find(t)[0], runtime)) == 1
        if not ok:
            continue
        offset = 0
        for t, size in zip(node.inputs, inner):
            groups.join(t, node.outputs[0], offset)
            offset += size * np.dtype(g.tensors[t].dtype).itemsize
        node.kernel = "concat_f32_inplace"


def _in_place(g, groups: _Groups, runtime, steps, last, nbytes) -> None:
    """An elementwise kernel's output takes over an input buffer that dies at that node."""
    for node in g.nodes:
        opdef, k = ops.get(node.op), kernels.get(node.op, node.kernel)
        out = node.outputs[0]
        if not opdef.inplace or not k.inplace or len(groups.members(groups.find(out)[0], runtime)) != 1:
            continue
        for idx in opdef.inplace:
            t = node.input(idx)
            if not t or t not in nbytes or g.tensors[t].shape != g.tensors[out].shape:
                continue
            root, off = groups.find(t)
            ms = groups.members(root, runtime)
            if max(last[m] for m in ms) == steps[node.name] and nbytes[root] == nbytes[t] and off == 0:
                groups.join(out, t)
                break


def _first_fit(order) -> callable:
    def place(bufs: list[Buffer]) -> int:
        placed: list[Buffer] = []
        for b in order(bufs):
            conflicts = sorted((p for p in placed if p.first <= b.last and b.first <= p.last), key=lambda p: p.offset)
            offset = 0
            for p in conflicts:
                if offset + b.size <= p.offset:
                    break
                offset = max(offset, _align(p.offset + p.size))
            b.offset = offset
            placed.append(b)
        return max((b.offset + b.size for b in bufs), default=0)
    return place


def _sequential(bufs: list[Buffer]) -> int:
    offset = 0
    for b in bufs:
        b.offset, offset = offset, offset + b.size
    return offset


def _search(bufs: list[Buffer], tries: int = 400, seed: int = 0) -> int:
    """First fit over many orderings (size^a * lifetime^b with jitter, seeded), keeping the best;
    stops as soon as one reaches the live-set lower bound."""
    import random

    end = max((b.last for b in bufs), default=0)
    bound = max((sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(end + 1)), default=0)
    rng = random.Random(seed)
    best, best_offsets = None, None
    for i in range(tries):
        a, c = (1.0, 0.0) if i == 0 else (rng.random(), rng.random())
        jitter = {id(b): 1 + 0.3 * rng.random() * (i > 0) for b in bufs}
        size = _first_fit(lambda bs: sorted(bs, key=lambda b: -(b.size ** a) * (b.last - b.first + 1) ** c
                                            * jitter[id(b)]))(bufs)
        if best is None or size < best:
            best, best_offsets = size, [b.offset for b in bufs]
        if best <= _align(bound):
            break
    for b, off in zip(bufs, best_offsets):
        b.offset = off
    return best


ALGORITHMS = {
    "search": _search,
    "greedy_by_size": _first_fit(lambda bs: sorted(bs, key=lambda b: (-b.size, b.first))),
    "greedy_by_lifetime": _first_fit(lambda bs: sorted(bs, key=lambda b: (-(b.last - b.first), -b.size))),
    "greedy_by_start": _first_fit(lambda bs: sorted(bs, key=lambda b: (b.first, -b.size))),
}
