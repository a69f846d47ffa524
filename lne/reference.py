"""Run a Graph with the numpy reference of every op: the semantics kernels are tested against."""
from __future__ import annotations

import numpy as np

from . import ops


def run_graph(g, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate every node in order; returns every tensor (inputs, constants, intermediates)."""
    values = {name: t.data for name, t in g.tensors.items() if t.is_const}
    values.update({k: np.asarray(v, dtype=np.float32) for k, v in feeds.items()})
    for node in g.nodes:
        arrays = [values[i] if i else None for i in node.inputs]
        for name, v in zip(node.outputs, ops.get(node.op).reference(node, arrays)):
            if name:
                values[name] = v
    return values
