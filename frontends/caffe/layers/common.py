"""Field helpers shared by the layer lowerings: axes, 2-D window geometry, positive ints."""
from __future__ import annotations

from lne.limits import show


def axis(b, value: int, rank: int, field: str, allow_end: bool = False) -> int:
    """A Caffe axis as an index in [0, rank); negative values count from the end. allow_end:
    Reshape's rule, where the index may be rank and -1 means rank."""
    hi = rank + 1 if allow_end else rank
    v = value + hi if value < 0 else value
    if not 0 <= v < hi:
        raise b.error(f"{field}={value} is out of range for a {rank}-D bottom {list(b.shape(b.bottom(0)))}")
    return v


def rank4(b, x: str) -> tuple[int, int, int, int]:
    shape = b.shape(x)
    if len(shape) != 4:
        raise b.error(f"bottom {show(b.layer.bottom[0])} has shape {list(shape)}; this layer needs a 4-D (N, C, H, W) "
                      "blob")
    return shape


def hw(b, param, pname: str, name: str, default: int | None, repeated: bool) -> tuple[int, int] | None:
    """(h, w) of a window field given as `name` (one value, or h and w when repeated) or as
    `name_h` / `name_w`; None when absent and there is no default."""
    values = list(getattr(param, name)) if repeated else ([getattr(param, name)] if param.HasField(name) else [])
    base = name.split("_")[0]  # kernel_size -> kernel_h / kernel_w
    fh, fw = f"{base}_h", f"{base}_w"
    if param.HasField(fh) or param.HasField(fw):
        if values and name == "kernel_size":
            raise b.error(f"{pname}: give either kernel_size or kernel_h/kernel_w, not both")
        if not (param.HasField(fh) and param.HasField(fw)):
            raise b.error(f"{pname}: {fh} and {fw} must be given together")
        return int(getattr(param, fh)), int(getattr(param, fw))
    if len(values) > 2:
        raise b.error(f"{pname}.{name} has {len(values)} values; LNE compiles 2-D layers (1 or 2 values)")
    if not values:
        return None if default is None else (default, default)
    return (int(values[0]), int(values[-1]))


def positive(b, pair: tuple[int, int], field: str) -> tuple[int, int]:
    if min(pair) < 1:
        raise b.error(f"{field}={list(pair) if pair[0] != pair[1] else pair[0]} must be positive")
    return pair
