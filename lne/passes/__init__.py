"""Passes: small named functions in a list, each followed by Graph.verify().

`run(graph, ...)` applies PIPELINE in order; `dump_after` names the passes after which the IR
is printed (or "all")."""
from __future__ import annotations

import contextlib
import gc
import sys
from typing import Callable

from .fold import infer_and_fold, eliminate_dead_code, skip_identities
from .fuse import fold_batchnorm, fuse_pad, fuse_activations
from .layout import assign_layouts
from .select import select_kernels
from .memory import plan_memory
from .quantize import quantize_qdq

PIPELINE: list[tuple[str, Callable]] = [
    ("infer_and_fold", infer_and_fold),
    ("skip_identities", skip_identities),
    ("eliminate_dead_code", eliminate_dead_code),
    ("fold_batchnorm", fold_batchnorm),
    ("fuse_pad", fuse_pad),
    ("fuse_activations", fuse_activations),
    ("quantize_qdq", quantize_qdq),
    ("eliminate_dead_code_2", eliminate_dead_code),
    ("assign_layouts", assign_layouts),
    ("select_kernels", select_kernels),
    ("plan_memory", plan_memory),
]

PASS_NAMES = [name for name, _ in PIPELINE]


@contextlib.contextmanager
def no_cyclic_gc():
    """Pause Python's cyclic garbage collector: the passes allocate many small objects while a
    large graph stays alive, and each full collection walks all of it (a 100,000-node graph
    spent about half its compile time there). Garbage is still freed by reference counting;
    cycles, if any, are collected once the collector runs again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


VERIFY_EACH_UP_TO = 20_000


def run(graph, options=None, dump_after=(), out=sys.stderr):
    """Run the pipeline; options is a dict read by passes (target, planner, debug...)."""
    options = options or {}
    # every pass is followed by a full IR check; on very large graphs (where the check costs as
    # much as the passes) only the last one is, so a 100,000-node model compiles in seconds
    each = len(graph.nodes) <= VERIFY_EACH_UP_TO
    with no_cyclic_gc():
        for i, (name, fn) in enumerate(PIPELINE):
            fn(graph, options)
            if each or i == len(PIPELINE) - 1:
                graph.verify()
            if "all" in dump_after or name in dump_after:
                print(f"# IR after {name}", file=out)
                print(graph.dump(), file=out)
    return graph
