"""Progress bars on stderr (tqdm when installed, nothing otherwise)."""
from __future__ import annotations

import sys


def bar(iterable, desc: str, enabled: bool = True, total=None):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)


class Counter:
    """A tqdm bar advanced by calls (for loops that report through a callback)."""

    def __init__(self, total: int, desc: str, enabled: bool = True):
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True,
                                 mininterval=0.2)
            except ImportError:
                pass

    def __call__(self, _=None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
