"""Pooling (MAX / AVE, global, CEIL or FLOOR rounding).

Caffe's output size is ceil((H + 2p - k) / s) + 1 (round_mode CEIL, the default), less one when
there is padding and the last window would start at or past H + p. Its AVE divides each sum by
the window clipped to the padded extent [-p, H + p) (padding counts, ceil overhang does not).
That is exactly the IR's MaxPool / AveragePool with explicit pads, ceil_mode=1 and (for AVE)
count_include_pad=1. The one Caffe case the IR does not share - no padding and a last window
starting outside the input, where Caffe reads nothing - is refused."""
from __future__ import annotations

from .common import hw, positive, rank4

MAX, AVE, STOCHASTIC = 0, 1, 2
CEIL, FLOOR = 0, 1


def _caffe_size(size: int, k: int, s: int, p: int, ceil: bool, any_pad: bool) -> int:
    span = size + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if any_pad and (out - 1) * s >= size + p:
        out -= 1
    return out


def pooling(b) -> list[str]:
    p = b.layer.pooling_param
    x = b.bottom(0)
    _, _, h, w = rank4(b, x)
    if p.pool == STOCHASTIC:
        raise b.error("pooling_param.pool=STOCHASTIC is not supported (MAX and AVE are)")
    if p.global_pooling:
        if p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w"):
            raise b.error("pooling_param: global_pooling takes no kernel size")
        if (p.pad or p.pad_h or p.pad_w) or (p.HasField("stride") and p.stride != 1) or p.HasField("stride_h"):
            raise b.error("pooling_param: global_pooling needs pad 0 and stride 1")
        return [b.node("GlobalMaxPool" if p.pool == MAX else "GlobalAveragePool", [x], out=b.top())]
    k = hw(b, p, "pooling_param", "kernel_size", None, False)
    if k is None:
        raise b.error("pooling_param.kernel_size (or kernel_h and kernel_w, or global_pooling) is missing")
    k = positive(b, k, "pooling_param.kernel_size")
    s = positive(b, hw(b, p, "pooling_param", "stride", 1, False), "pooling_param.stride")
    pad = hw(b, p, "pooling_param", "pad", 0, False)
    if pad[0] >= k[0] or pad[1] >= k[1]:
        raise b.error(f"pooling_param.pad={list(pad)} must be smaller than the kernel {list(k)}")
    if h + 2 * pad[0] < k[0] or w + 2 * pad[1] < k[1]:
        raise b.error(f"pooling_param.kernel_size={list(k)} is larger than the padded input {[h, w]}")
    ceil = p.round_mode == CEIL
    any_pad = bool(pad[0] or pad[1])
    sizes = [(_caffe_size(n, kk, ss, pp, ceil, any_pad), _caffe_size(n, kk, ss, pp, False, any_pad), n, ss, pp)
             for n, kk, ss, pp in ((h, k[0], s[0], pad[0]), (w, k[1], s[1], pad[1]))]
    for out, _, n, ss, pp in sizes:
        if (out - 1) * ss >= n + pp:
            raise b.error(f"the last pooling window starts at {(out - 1) * ss - pp}, outside the {n}-wide input "
                          f"(kernel {list(k)} smaller than stride {list(s)} with CEIL rounding); Caffe's output "
                          "there is undefined. Use pooling_param.round_mode: FLOOR or a kernel >= stride")
    ceil_mode = int(any(out != floor for out, floor, *_ in sizes))  # 0 where rounding makes no difference
    attrs = {"kernel_shape": list(k), "strides": list(s), "pads": [pad[0], pad[1], pad[0], pad[1]],
             "ceil_mode": ceil_mode}
    if p.pool == MAX:
        return [b.node("MaxPool", [x], attrs, out=b.top())]
    return [b.node("AveragePool", [x], dict(attrs, count_include_pad=1), out=b.top())]


LAYERS = {"Pooling": pooling}
