"""Layout conversion: the internal Reorder op that the layout pass (lne/passes/layout.py) puts
where a region in the blocked NCHW8c layout meets NCHW tensors. Layouts change only the bytes'
order, never the values: the reference is the identity."""
from __future__ import annotations

from .base import OpDef, register, same_shape


def _reference(node, ins):
    return [ins[0].copy()]


register(OpDef("Reorder", "injective", same_shape, _reference, internal=True,
               doc="copy input 0 into the layout attrs['to'] ('nchw' or 'nchw8c')"))
