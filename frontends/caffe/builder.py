"""Builder: what a layer's lowering function uses to turn one Caffe layer into IR nodes.

Caffe blobs are mutable names (an in-place ReLU writes the blob it reads); the IR is SSA. The
builder maps each blob name to the IR tensor holding its current value. The last layer writing
a blob gives its tensor the blob's own name (so net outputs keep their Caffe names); earlier
writes get `blob@layer`. Every node is shape-inferred as it is added, so lowerings can check
Caffe fields against real shapes, and IR errors come back naming the layer.
"""
from __future__ import annotations

import numpy as np

from lne import ops
from lne.errors import LNEError
from lne.ir import Graph, Node, Tensor

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

    # -- errors ---------------------------------------------------------------------------------
    def error(self, msg: str, layer=None) -> LNEError:
        layer = layer or self.layer
        return LNEError(f"{self.path}: layer {layer.name!r} ({layer.type}): {msg}")

    # -- blobs ----------------------------------------------------------------------------------
    def bottom(self, i: int = 0) -> str:
        layer = self.layer
        if i >= len(layer.bottom):
            raise self.error(f"needs at least {i + 1} bottom blob(s), has {len(layer.bottom)}")
        blob = layer.bottom[i]
        if blob not in self.current:
            raise self.error(f"bottom {blob!r} is not produced by any earlier layer or net input")
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
        name, i = base, 1
        while name in self.g.tensors or name in self.reserved or name in self._planned:
            name, i = f"{base}_{i}", i + 1
        return name

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
        names = {n.name for n in self.g.nodes}
        name = layer.name if tag is None and layer.name not in names else f"{layer.name}/{tag or op.lower()}"
        while name in names:
            name += "_"
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
                if any(d <= 0 for d in shape):
                    raise LNEError(f"output would have shape {list(shape)}; every dimension must be positive")
                self.g.tensors[o].shape, self.g.tensors[o].dtype = shape, dtype
        except LNEError as e:
            msg = str(e)
            prefix = f"node {name!r} ({op}): "
            raise self.error(msg[len(prefix):] if msg.startswith(prefix) else msg) from None
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
            raise self.error(f"the caffemodel {self.weights_path} has no layer named {layer.name!r} "
                             f"(it needs {what})")
        if not lo <= len(protos) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise self.error(f"{source} gives {len(protos)} blob(s); this layer needs {want} ({what})")
        return [blob_array(p, f"{source}: layer {layer.name!r} blob {i}") for i, p in enumerate(protos)]

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
