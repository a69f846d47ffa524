"""Window arithmetic shared by convolution and pooling (ONNX conventions, 2-D, NCHW)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .base import OpError


# The C++ kernels hold geometry in int32_t fields (lne::ConvParams, lne::PoolParams, QConvParams)
# and compute window positions (oy * stride - pad + ky * dilation) in 32-bit arithmetic.
INT32_MAX = 2**31 - 1


def _ints(node, key: str, values, count: int, low: int) -> list[int]:
    values = list(values)
    if len(values) != count or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                       for v in values) or min(values) < low:
        what = "positive" if low > 0 else "non-negative"
        raise OpError(node, f"attribute {key}={_cut(values)} must be {'two' if count == 2 else 'four'} {what} integers"
                            + (" (2-D only)" if count == 2 else ""))
    if max(values) > INT32_MAX:
        raise OpError(node, f"attribute {key}={_cut(values)}: {max(values)} does not fit the 32-bit integers "
                            f"the kernels use (at most {INT32_MAX})")
    return [int(v) for v in values]


def _cut(values) -> str:
    return str(values[:8])[:-1] + ", ...]" if len(values) > 8 else str(values)


def window_attrs(node, spatial: tuple[int, int], kernel: tuple[int, int]) -> None:
    """Fill strides, dilations and explicit pads [top, left, bottom, right]; resolve auto_pad.
    Every value is range-checked for the int32 fields of the C++ kernels (check_extent)."""
    a = node.attrs
    a["kernel_shape"] = _ints(node, "kernel_shape", kernel, 2, 1)
    a["strides"] = _ints(node, "strides", a.get("strides") or [1, 1], 2, 1)
    a["dilations"] = _ints(node, "dilations", a.get("dilations") or [1, 1], 2, 1)
    pads = _ints(node, "pads", a.get("pads") or [0, 0, 0, 0], 4, 0)
    auto = a.pop("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0, 0, 0, 0]
        for d in range(2):
            s, k = a["strides"][d], (kernel[d] - 1) * a["dilations"][d] + 1
            out = math.ceil(spatial[d] / s)
            total = max(0, (out - 1) * s + k - spatial[d])
            small, big = total // 2, total - total // 2
            pads[d], pads[d + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    elif auto not in ("NOTSET", ""):
        raise OpError(node, f"auto_pad={str(auto)[:40]!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    a["pads"] = pads
    check_extent(node, spatial)


def check_extent(node, spatial) -> None:
    """The padded input and the dilated window must fit int32 (every window position the kernels
    compute then does: it lies in [-pad, size + pads))."""
    a = node.attrs
    (kh, kw), (dh, dw), (pt, pl, pb, pr) = a["kernel_shape"], a["dilations"], a["pads"]
    for axis, size, p0, p1, k, d in (("height", spatial[0], pt, pb, kh, dh), ("width", spatial[1], pl, pr, kw, dw)):
        if size + p0 + p1 > INT32_MAX:
            raise OpError(node, f"attribute pads={a['pads']}: the padded {axis} {size + p0 + p1} does not fit the "
                                f"32-bit integers the kernels use (at most {INT32_MAX})")
        if (k - 1) * d + 1 > INT32_MAX:
            raise OpError(node, f"attributes kernel_shape={a['kernel_shape']} and dilations={a['dilations']}: the "
                                f"dilated window {axis} {(k - 1) * d + 1} does not fit the 32-bit integers the "
                                f"kernels use (at most {INT32_MAX})")


def out_size(node, size: int, k: int, s: int, d: int, p0: int, p1: int, ceil_mode: bool = False) -> int:
    eff = (k - 1) * d + 1
    span = size + p0 + p1 - eff
    if span < 0:
        raise OpError(node, f"window of extent {eff} does not fit input size {size} with pads ({p0}, {p1})")
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p0:
        out -= 1  # the last window would start inside the end padding only
    return out


def out_hw(node, h: int, w: int, ceil_mode: bool = False) -> tuple[int, int]:
    a = node.attrs
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    return (out_size(node, h, kh, sh, dh, pt, pb, ceil_mode), out_size(node, w, kw, sw, dw, pl, pr, ceil_mode))
