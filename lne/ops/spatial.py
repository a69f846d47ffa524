"""Window arithmetic shared by convolution and pooling (ONNX conventions, 2-D, NCHW)."""
from __future__ import annotations

import math

from .base import OpError


def window_attrs(node, spatial: tuple[int, int], kernel: tuple[int, int]) -> None:
    """Fill strides, dilations and explicit pads [top, left, bottom, right]; resolve auto_pad."""
    a = node.attrs
    a["kernel_shape"] = list(kernel)
    a["strides"] = list(a.get("strides") or [1, 1])
    a["dilations"] = list(a.get("dilations") or [1, 1])
    pads = list(a.get("pads") or [0, 0, 0, 0])
    for key in ("strides", "dilations", "kernel_shape"):
        if len(a[key]) != 2 or min(a[key]) < 1:
            raise OpError(node, f"attribute {key}={a[key]} must be two positive integers (2-D only)")
    if len(pads) != 4 or min(pads) < 0:
        raise OpError(node, f"attribute pads={pads} must be four non-negative integers")
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
        raise OpError(node, f"auto_pad={auto!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    a["pads"] = pads


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
