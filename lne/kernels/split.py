"""Split kernel: one memcpy per part and outer row (the inverse of concat_f32_ref)."""
from __future__ import annotations

import math

import numpy as np

from .registry import Emitter, KernelDef, register


def _split(e: Emitter) -> str:
    shape, axis = e.in_shape(0), e.node.attrs["axis"]
    outer = math.prod(shape[:axis])
    inner = math.prod(shape[axis + 1:])
    sizes = [s * inner for s in e.node.attrs["split"]]
    ys, sz = f"kY{e.uid}", f"kS{e.uid}"
    e.decls.append(f"static const int64_t {sz}[] = {{{', '.join(map(str, sizes))}}};")
    return (f"float* const {ys}[] = {{{', '.join(e.outputs)}}};\n"
            f"  lne::split_f32_ref({outer}, {len(sizes)}, {e.inputs[0]}, {sz}, {ys});")


register(KernelDef("Split", "ref", "kernels/tensor/split_ref.h", _split, family="split", inplace=False))
