"""One module per op family; importing this package registers every op."""
from .base import OpDef, OpError, all_ops, get, register  # noqa: F401
from . import activation, binary, conv, linear, norm, pool, shape, softmax, tensor  # noqa: F401
from . import binary_ext, layout, split  # noqa: F401
from . import quant  # noqa: F401


def supported() -> list[str]:
    """ONNX op types LNE compiles to run-time code (internal ops made by passes not listed)."""
    return sorted(n for n, d in all_ops().items() if not d.internal and d.runtime)


def folded_only() -> list[str]:
    """ONNX op types accepted only on constant inputs: shape arithmetic folded at compile time."""
    return sorted(n for n, d in all_ops().items() if not d.runtime)
