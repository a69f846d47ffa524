"""Typed tool parameters: declaration, validation, coercion.

A tool declares ``params = {"iterations": Param("int", 40000, "training iterations", min=1)}``.
Kinds: ``int``, ``float``, ``str``, ``bool``, ``path`` (a file or folder; its contents take part
in the step's cache key), ``str_list``, ``int_list``, ``float_list`` and ``layer_table`` (a list of
``[k_h, k_w, M]`` rows). ``default=REQUIRED`` makes a parameter mandatory; ``default=None`` makes
it optional. ``key=False`` keeps a parameter out of the cache key (it does not change the result,
e.g. a thread count or a checkpoint interval).
"""
from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Any


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 60, 40


def brief(value: Any) -> str:
    """A value as an error message may show it: a short excerpt, control characters escaped
    (a workflow value can be a megabyte string or a list of 100,000 items)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails (never from YAML; be safe anyway)
        text = f"<{type(value).__name__}>"
    # repr already escapes what a string holds; escape anything else unprintable, then cut
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:200])
    return text if len(text) <= 100 else text[:100] + "..."


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

KINDS = ("int", "float", "str", "bool", "path", "str_list", "int_list", "float_list", "layer_table")


class ParamError(ValueError):
    """A parameter value does not fit its declaration (the message names the problem)."""


@dataclass(frozen=True)
class Param:
    kind: str
    default: Any = REQUIRED
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    key: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}; kinds are {KINDS}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        d = "required" if self.required else f"default {self.default!r}"
        c = f", one of {list(self.choices)}" if self.choices else ""
        r = ""
        if self.min is not None or self.max is not None:
            r = f", range [{'' if self.min is None else self.min}, {'' if self.max is None else self.max}]"
        return f"{self.kind} ({d}{c}{r}) {self.help}".rstrip()

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's kind, or raise ParamError."""
        if value is None:
            if self.default is None:
                return None
            raise ParamError(f"expected {self._kind_text()}, got null")
        v = _coerce(self.kind, value)
        if self.kind.endswith("_list"):
            items = v
        elif self.kind == "layer_table":
            items = [x for row in v for x in row]
        else:
            items = [v]
        for x in items:
            if self.choices is not None and x not in self.choices:
                raise ParamError(f"{brief(x)} is not one of {list(self.choices)}")
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                if self.min is not None and x < self.min:
                    raise ParamError(f"{brief(x)} is below the minimum {self.min}")
                if self.max is not None and x > self.max:
                    raise ParamError(f"{brief(x)} is above the maximum {self.max}")
        return v

    def _kind_text(self) -> str:
        return {"str_list": "a list of strings", "int_list": "a list of integers",
                "float_list": "a list of numbers", "layer_table": "a list of [k_h, k_w, M] rows",
                "path": "a path (string)"}.get(self.kind, f"a value of type {self.kind}")


def _scalar(kind: str, v: Any) -> Any:
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            if not (isinstance(v, float) and v.is_integer()):
                raise ParamError(f"expected an integer, got {brief(v)}")
            v = int(v)
        if not -2**63 <= v < 2**63:
            raise ParamError(f"{brief(v)} is outside the 64-bit integer range")
        return v
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ParamError(f"expected a number, got {brief(v)}")
        try:
            f = float(v)
        except OverflowError:
            raise ParamError(f"{brief(v)} is too large for a number") from None
        if not math.isfinite(f):
            raise ParamError(f"expected a finite number, got {brief(v)}")
        return f
    if kind == "bool":
        if not isinstance(v, bool):
            raise ParamError(f"expected true or false, got {brief(v)}")
        return v
    if kind in ("str", "path"):
        if not isinstance(v, str) or (kind == "path" and not v):
            raise ParamError(f"expected {'a path' if kind == 'path' else 'a string'}, got {brief(v)}")
        if kind == "path" and "\0" in v:
            raise ParamError(f"a path cannot contain a NUL character: {brief(v)}")
        return v
    raise AssertionError(kind)


def _coerce(kind: str, v: Any) -> Any:
    if kind.endswith("_list"):
        if not isinstance(v, (list, tuple)):
            raise ParamError(f"expected a list, got {brief(v)}")
        inner = kind[:-5]
        return [_scalar(inner, x) for x in v]
    if kind == "layer_table":
        if not isinstance(v, (list, tuple)) or not v:
            raise ParamError(f"expected a non-empty list of [k_h, k_w, M] rows, got {brief(v)}")
        rows = []
        for i, row in enumerate(v):
            if not isinstance(row, (list, tuple)) or len(row) != 3:
                raise ParamError(f"row {i + 1}: expected [k_h, k_w, M], got {brief(row)}")
            r = [_scalar("int", x) for x in row]
            if min(r) < 1:
                raise ParamError(f"row {i + 1}: sizes must be >= 1, got {brief(row)}")
            rows.append(r)
        return rows
    return _scalar(kind, v)
