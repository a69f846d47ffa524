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
    """Union-find of tensors that share storage, each member at a byte offset in its root.
    Keeps, per root, how many run-time tensors share it and the last step any of them is read,
    so the in-place and Concat rules ask in O(1) (was a scan of every tensor: quadratic)."""

    def __init__(self, runtime=(), last=None):
        self.parent: dict[str, tuple[str, int]] = {}
        self._runtime = set(runtime)
        self._last = last if last is not None else {}
        self._count: dict[str, int] = {}
        self._glast: dict[str, int] = {}

    def find(self, t: str) -> tuple[str, int]:
        up = self.parent.get(t)
        if up is None:
            return t, 0
        if up[0] not in self.parent:  # one step to the root (compressed paths: the usual case)
            return up
        root, off = t, 0
        path = []
        while root in self.parent:
            path.append((root, off))
            root, o = self.parent[root]
            off += o
        for name, at in path[:-1]:  # path compression: point straight at the root
            self.parent[name] = (root, off - at)
        return root, off

    def count(self, root: str) -> int:
        """Run-time tensors in the group of ``root``."""
        return self._count.get(root, 1 if root in self._runtime else 0)

    def last(self, root: str) -> int:
        """The last step any run-time tensor of the group of ``root`` is read."""
        return self._glast.get(root, self._last.get(root, -1))

    def join(self, member: str, host: str, offset: int = 0) -> None:
        """Put ``member`` (and everything sharing its storage) at ``offset`` in ``host``'s storage."""
        hroot, hoff = self.find(host)
        mroot, moff = self.find(member)
        if mroot == hroot:
            return
        self.parent[mroot] = (hroot, hoff + offset - moff)
        self._count[hroot] = self.count(hroot) + self.count(mroot)
        self._glast[hroot] = max(self.last(hroot), self.last(mroot))
        self._count.pop(mroot, None)
        self._glast.pop(mroot, None)

    def members(self, root: str, names) -> list[str]:
        return [t for t in names if self.find(t)[0] == root]


def plan_memory(g, options) -> None:
    debug = bool(options.get("debug"))
    nodes = g.nodes
    steps = {node.name: i + 1 for i, node in enumerate(nodes)}
    end = len(nodes) + 1
    runtime = list(g.inputs) + [o for n in nodes for o in n.outputs if o]
    tensors = g.tensors
    nbytes = {t: tensors[t].nbytes for t in runtime}
    first = {t: 0 for t in g.inputs}
    last = {t: 0 for t in g.inputs}
    for step, node in enumerate(nodes, 1):
        for o in node.outputs:
            if o:
                first[o] = last[o] = step
    for step, node in enumerate(nodes, 1):
        for i in node.inputs:
            if i in last and last[i] < step:
                last[i] = step
    for o in g.outputs:
        last[o] = end

    groups = _Groups(runtime, last)
    get_op = ops.get
    for node in nodes:
        if get_op(node.op).view:
            groups.join(node.outputs[0], node.inputs[0])
    if not debug:
        _concat_in_place(g, groups, runtime)
        _in_place(g, groups, runtime, steps, last, nbytes)

    where = {t: groups.find(t) for t in runtime}  # tensor -> (root, offset), once
    members: dict[str, list[str]] = {}
    for t in runtime:
        members.setdefault(where[t][0], []).append(t)
    buffers = [Buffer(root, _align(nbytes[root]), min(first[m] for m in ms), max(last[m] for m in ms))
               for root, ms in members.items()]
    scratch_bufs = {}
    for step, node in enumerate(nodes, 1):
        size = kernels.get(node.op, node.kernel).scratch(node, g)
        if size:
            scratch_bufs[node.name] = Buffer(f"scratch:{node.name}", _align(size), step, step)
    all_bufs = buffers + list(scratch_bufs.values())

    lower = _live_bound(all_bufs)
    naive = sum(_align(nbytes[t]) for t in runtime) + sum(b.size for b in scratch_bufs.values())
    overlaps = None if debug else _Overlaps(all_bufs)
    if debug:
        algorithm, arena = "sequential", _sequential(all_bufs)
    elif overlaps.of is None:  # too wide for first fit in bounded time
        algorithm, arena = "reuse_by_size", _reuse_by_size(all_bufs)
    elif options.get("planner"):
        algorithm = options["planner"]
        arena = ALGORITHMS[algorithm](all_bufs, overlaps)
    else:  # every algorithm; keep the smallest arena
        best = None
        for name, place in ALGORITHMS.items():
            size = place(all_bufs, overlaps)
            if best is None or size < best[1]:
                best = (name, size, [b.offset for b in all_bufs])
        algorithm, arena, offsets = best
        for b, off in zip(all_bufs, offsets):
            b.offset = off
    by_root = {b.name: b.offset for b in buffers}
    offsets = {}
    for t in runtime:
        root, off = where[t]
        offsets[t] = by_root[root] + off
    g.plan = MemoryPlan(algorithm, arena, lower, naive, offsets,
                        {n: (b.offset, b.size) for n, b in scratch_bufs.items()}, all_bufs)


def _concat_in_place(g, groups: _Groups, runtime) -> None:
    """Let producers write Concat inputs straight into the output when each input is a block."""
    prods, cons = g.producers(), g.consumers()
    outputs = set(g.outputs)
    for node in g.nodes:
        if node.op != "Concat":
            continue
        outer, inner = concat_layout(node, g)
        ok = outer == 1 and len(set(node.inputs)) == len(node.inputs)
        for t in node.inputs:
            p = prods.get(t)
            ok = ok and p is not None and not ops.get(p.op).view and t not in outputs \
                and len(cons.get(t, [])) == 1 and groups.count(groups.find(t)[0]) == 1
        if not ok:
            continue
        offset = 0
        for t, size in zip(node.inputs, inner):
            groups.join(t, node.outputs[0], offset)
            offset += size * np.dtype(g.tensors[t].dtype).itemsize
        node.kernel = "concat_f32_inplace"


def _in_place(g, groups: _Groups, runtime, steps, last, nbytes) -> None:
    """An elementwise kernel's output takes over an input buffer that dies at that node."""
    tensors = g.tensors
    for step, node in enumerate(g.nodes, 1):
        opdef = ops.get(node.op)
        if not opdef.inplace or not kernels.get(node.op, node.kernel).inplace:
            continue
        out = node.outputs[0]
        if groups.count(groups.find(out)[0]) != 1:
            continue
        for idx in opdef.inplace:
            t = node.input(idx)
            if not t or t not in nbytes or tensors[t].shape != tensors[out].shape:
                continue
            root, off = groups.find(t)
            if off == 0 and groups.last(root) == step and nbytes[root] == nbytes[t]:
                groups.join(out, t)
                break


# Placement work is bounded by graph size: first fit looks only at the buffers whose lifetimes
# overlap (found once by a sweep, O(n log n + pairs)); past PAIR_BUDGET overlapping pairs (a
# hostile, very wide graph) every algorithm gives way to a linear size-class reuse.
PAIR_BUDGET = 2_000_000
SEARCH_BUDGET = 2_000_000   # first-fit work (buffers + overlapping pairs) over all search tries


def _live_bound(bufs: list[Buffer]) -> int:
    """The largest sum of sizes live at one step (a sweep over lifetimes, O(n + steps))."""
    if not bufs:
        return 0
    end = max(b.last for b in bufs)
    delta = [0] * (end + 2)
    for b in bufs:
        delta[b.first] += b.size
        delta[b.last + 1] -= b.size
    best = live = 0
    for d in delta[:end + 1]:
        live += d
        best = max(best, live)
    return best


class _Overlaps:
    """For each buffer, the buffers whose lifetimes overlap it (None past PAIR_BUDGET pairs)."""

    def __init__(self, bufs: list[Buffer]):
        import heapq

        self.pairs = 0
        self.of: dict[int, list[Buffer]] | None = {id(b): [] for b in bufs}
        active: dict[int, Buffer] = {}
        heap: list[tuple[int, int]] = []
        for b in sorted(bufs, key=lambda b: b.first):
            while heap and heap[0][0] < b.first:
                active.pop(heapq.heappop(heap)[1], None)
            self.pairs += len(active)
            if self.pairs > PAIR_BUDGET:
                self.of = None
                return
            mine = self.of[id(b)]
            for a in active.values():
                mine.append(a)
                self.of[id(a)].append(b)
            active[id(b)] = b
            heapq.heappush(heap, (b.last, id(b)))


def _overlaps(bufs, overlaps):
    """``overlaps`` if it was made for ``bufs``, else a new sweep."""
    if overlaps is None or (overlaps.of is not None and
                            (len(overlaps.of) != len(bufs) or any(id(b) not in overlaps.of for b in bufs))):
        overlaps = _Overlaps(bufs)
    return overlaps


def _first_fit(order) -> callable:
    def place(bufs: list[Buffer], overlaps: _Overlaps | None = None) -> int:
        overlaps = _overlaps(bufs, overlaps)
        if overlaps.of is None:
            return _reuse_by_size(bufs)
        placed: dict[int, int] = {}  # id -> placement rank (conflicts tie on offset in placement order)
        for rank, b in enumerate(order(bufs)):
            conflicts = sorted((p for p in overlaps.of[id(b)] if id(p) in placed),
                               key=lambda p: (p.offset, placed[id(p)]))
            offset = 0
            for p in conflicts:
                if offset + b.size <= p.offset:
                    break
                offset = max(offset, _align(p.offset + p.size))
            b.offset = offset
            placed[id(b)] = rank
        return max((b.offset + b.size for b in bufs), default=0)
    return place


def _reuse_by_size(bufs: list[Buffer]) -> int:
    """Linear fallback for graphs too wide for first fit: in order of first use, a buffer takes
    a freed slot of exactly its size, else new space at the end."""
    import heapq

    free: dict[int, list[int]] = {}
    heap: list[tuple[int, int, int, int]] = []  # (last, tie, offset, size)
    top = 0
    for i, b in enumerate(sorted(bufs, key=lambda b: (b.first, -b.size))):
        while heap and heap[0][0] < b.first:
            _, _, off, size = heapq.heappop(heap)
            free.setdefault(size, []).append(off)
        slots = free.get(b.size)
        if slots:
            b.offset = slots.pop()
        else:
            b.offset, top = top, top + b.size
        heapq.heappush(heap, (b.last, i, b.offset, b.size))
    return max((b.offset + b.size for b in bufs), default=0)


def _sequential(bufs: list[Buffer], overlaps=None) -> int:
    offset = 0
    for b in bufs:
        b.offset, offset = offset, offset + b.size
    return offset


def _search(bufs: list[Buffer], overlaps: _Overlaps | None = None, tries: int = 400, seed: int = 0) -> int:
    """First fit over many orderings (size^a * lifetime^b with jitter, seeded), keeping the best;
    stops as soon as one reaches the live-set lower bound. The number of tries shrinks with the
    graph (SEARCH_BUDGET) so a huge graph costs a few first fits, not hundreds."""
    import random

    overlaps = _overlaps(bufs, overlaps)
    if overlaps.of is None:
        return _reuse_by_size(bufs)
    tries = max(1, min(tries, SEARCH_BUDGET // (len(bufs) + overlaps.pairs + 1)))
    bound = _live_bound(bufs)
    rng = random.Random(seed)
    best, best_offsets = None, None
    for i in range(tries):
        a, c = (1.0, 0.0) if i == 0 else (rng.random(), rng.random())
        jitter = {id(b): 1 + 0.3 * rng.random() * (i > 0) for b in bufs}
        size = _first_fit(lambda bs: sorted(bs, key=lambda b: -(b.size ** a) * (b.last - b.first + 1) ** c
                                            * jitter[id(b)]))(bufs, overlaps)
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
