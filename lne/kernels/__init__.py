"""Kernel registry; importing this package registers the built-in kernels."""
from .registry import Emitter, KernelDef, all_kernels, for_op, get, register  # noqa: F401
from . import conv, eltwise, gemm, pool, softmax, tensor  # noqa: F401
from . import binary_ext, split  # noqa: F401
from . import nchwc, winograd  # noqa: F401
from . import qdot, quant, qwinograd  # noqa: F401  (int8 / int16 kernels)
from . import neon  # noqa: F401  (last: NEON kernels rank themselves above the portable ones)
