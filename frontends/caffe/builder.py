"""Builder: what a layer's lowering function uses to turn one Caffe layer into IR nodes.

Caffe blobs are mutable names (an in-place ReLU writes the blob it reads); the IR is SSA. The
builder maps each blob name to the IR tensor holding its current value. The last layer writing
a blob gives its tensor the blob's own name (so net outputs keep their Caffe names); earlier
writes get `blob@layer`. Every node is shape-inferred as it is added, so lowerings can check
Caffe fields against real shapes, and IR errors come back naming the layer.
"""
from __future__ import annotations

import math

import numpy as np

from lne import ops
from lne.errors import LNEError
from lne.ir import Graph, Node, Tensor
from lne.limits import MAX_ELEMENTS, MAX_RANK, plain, show

from .reader import blob_array


class Builder:
    def __init__(self, path, graph: Graph, weights: dict[str, list] | None, weights_path, reserved: set[str],
                 last_writer: dict[str, int]):
        self.path, self.g, self.weights, self.weights_path = path, graph, weights, weights_path
        self.reserved = set(reserved)        # every blob name: intermediate tensors never take one
        self.last_writer = last_writer       # blob -> index of the last layer writing it
        self.current: dict[str, str] = {}    # blob -> IR tensor holding its value now
        self.layer = None
        self.index = -1
        self._planned: dict[str, int] = {}   # tensor name -> top index, for the layer being lowered
        self._node_names: set[str] = {n.name for n in graph.nodes}
        self._next: dict[str, int] = {}      # tensor base name -> next suffix to try (fresh names in O(1))
        self._next_node: dict[str, int] = {}  # the same for node names

    # -- errors ---------------------------------------------------------------------------------
    def error(self, msg: str, layer=None) -> LNEError:
        layer = layer or self.layer
        return LNEError(f"{plain(str(self.path), 200)}: layer {show(layer.name)} ({plain(layer.type)}): {msg}")

    # -- blobs ----------------------------------------------------------------------------------
    def bottom(self, i: int = 0) -> str:
        layer = self.layer
        if i >= len(layer.bottom):
            raise self.error(f"needs at least {i + 1} bottom blob(s), has {len(layer.bottom)}")
        blob = layer.bottom[i]
        if blob not in self.current:
            raise self.error(f"bottom {show(blob)} is not produced by any earlier layer or net input")
        return self.current[blob]

    def bottoms(self) -> list[str]:
        return [self.bottom(i) for i in range(len(self.layer.bottom))]

    def shape(self, tensor: str) -> tuple[int, ...]:
        return tuple(self.g.tensors[tensor].shape)

    def top(self, k: int = 0) -> str:
        """The IR tensor name that top k of the current layer is to be written to."""
        layer = self.layer
        if k >= len(layer.top):
            raise self.error(f"needs at least {k + 1} top blob(s), has {len(layer.top)}")
        blob = layer.top[k]
        if self.last_writer.get(blob) == self.index and blob not in self.g.tensors:
            name = blob
        else:
            name = self.fresh(f"{blob}@{layer.name}")
        self._planned[name] = k
        return name

    def fresh(self, base: str) -> str:
        """A tensor name not taken, from `base`: `base`, else `base_1`, `base_2`... (the suffix
        to try next is kept per base, so many layers of one name stay linear)."""
        def taken(name):
            return name in self.g.tensors or name in self.reserved or name in self._planned

        if not taken(base):
            return base
        i = self._next.get(base, 1)
        while taken(f"{base}_{i}"):
            i += 1
        self._next[base] = i + 1
        return f"{base}_{i}"

    def begin(self, index: int, layer) -> None:
        self.index, self.layer, self._planned = index, layer, {}

    def commit(self, outputs: list[str]) -> None:
        """Bind the layer's tops to the tensors its lowering returned (one per top)."""
        layer = self.layer
        if len(outputs) != len(layer.top):
            raise self.error(f"has {len(layer.top)} top blob(s); this layer type gives {len(outputs)}")
        for blob, tensor in zip(layer.top, outputs):
            self.current[blob] = tensor

    # -- IR construction ------------------------------------------------------------------------
    def const(self, tag: str, data: np.ndarray) -> str:
        name = self.fresh(f"{self.layer.name}/{tag}")
        self.g.add_const(name, np.ascontiguousarray(data, dtype=np.float32))
        return name

    def node(self, op: str, inputs: list[str], attrs: dict | None = None, out: str | list[str] | None = None,
             tag: str | None = None):
        """Add one node, infer its output shape(s) and return its output name(s). `out` is a
        name from top() (or a list, for several outputs); None makes an intermediate tensor."""
        layer = self.layer
        outs = [out] if isinstance(out, str) else list(out) if out is not None else \
            [self.fresh(f"{layer.name}/{tag or op.lower()}")]
        names = self._node_names
        if len(names) < len(self.g.nodes):  # nodes added behind the builder's back
            names.update(n.name for n in self.g.nodes)
        name = layer.name if tag is None and layer.name not in names else f"{layer.name}/{tag or op.lower()}"
        if name in names:
            base, i = name, self._next_node.get(name, 1)
            while f"{base}_{i}" in names:
                i += 1
            self._next_node[base] = i + 1
            name = f"{base}_{i}"
        names.add(name)
        node = Node(name, op, list(inputs), outs, dict(attrs or {}))
        opdef = ops.get(op)
        for o in outs:
            self.g.add_tensor(Tensor(o))
        self.g.nodes.append(node)
        try:
            if opdef.normalize:
                opdef.normalize(node, self.g)
            ins = [self.g.tensors[i] if i else None for i in node.inputs]
            for o, (shape, dtype) in zip(outs, opdef.infer(node, ins)):
                shape = tuple(int(d) for d in shape)
                if len(shape) > MAX_RANK:
                    raise LNEError(f"output would have {len(shape)} dimensions; LNE compiles tensors of at most "
                                   f"{MAX_RANK}")
                if any(d <= 0 for d in shape):
                    raise LNEError(f"output would have shape {list(shape)}; every dimension must be positive")
                if math.prod(shape) > MAX_ELEMENTS:
                    raise LNEError(f"output would have shape {list(shape)}; LNE compiles tensors of at most "
                                   f"{MAX_ELEMENTS} elements")
                self.g.tensors[o].shape, self.g.tensors[o].dtype = shape, dtype
        except LNEError as e:
            msg = str(e)
            for prefix in (f"node {name!r} ({op}): ", f"node {show(name)} ({op}): "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
                    break
            raise self.error(msg) from None
        return out if isinstance(out, list) else outs[0]

    # -- weights --------------------------------------------------------------------------------
    def blobs(self, count: int | tuple[int, int], what: str) -> list[np.ndarray]:
        """The layer's blobs: from the caffemodel's layer of the same name, else from the
        prototxt's own `blobs` (as in Caffe, trained weights override the net's)."""
        layer = self.layer
        lo, hi = (count, count) if isinstance(count, int) else count
        if self.weights is not None and layer.name in self.weights:
            protos, source = self.weights[layer.name], f"{self.weights_path}"
        elif layer.blobs:
            protos, source = list(layer.blobs), f"{self.path}"
        elif self.weights is None:
            raise self.error(f"has no weights ({what}); pass the caffemodel with --weights net.caffemodel")
        else:
            raise self.error(f"the caffemodel {self.weights_path} has no layer named {show(layer.name)} "
                             f"(it needs {what})")
        if not lo <= len(protos) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise self.error(f"{source} gives {len(protos)} blob(s); this layer needs {want} ({what})")
        return [blob_array(p, f"{plain(source, 200)}: layer {show(layer.name)} blob {i}") for i, p in enumerate(protos)]

    def check_blob(self, array: np.ndarray, shape: tuple[int, ...], what: str, index: int) -> np.ndarray:
        """`array` reshaped to `shape`; its shape must equal it up to leading 1s (legacy 4-D blobs)."""
        def strip(s):
            s = list(s)
            while s and s[0] == 1:
                s.pop(0)
            return s
        if strip(array.shape) != strip(shape):
            raise self.error(f"blob {index} ({what}) has shape {list(array.shape)}, but the layer needs "
                             f"{list(shape)}")
        return array.reshape(shape)
