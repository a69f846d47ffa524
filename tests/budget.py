"""A resource budget for one in-process test step: address space limited to what the process
maps now plus a headroom (a runaway allocation becomes MemoryError), and SIGALRM after a time
(a hang becomes the given exception). Used by the fuzzers and the crafted-input corpus."""
from __future__ import annotations

import contextlib
import os
import resource
import signal


@contextlib.contextmanager
def budget(memory_headroom: int, seconds: float | None, on_alarm):
    """``on_alarm()`` makes the exception raised when the alarm fires; with ``seconds=None``
    the caller arms the timer itself (signal.setitimer) around each step."""
    def alarm(signum, frame):
        raise on_alarm()

    with open("/proc/self/statm") as f:
        vm_now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm_now + memory_headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    old = signal.signal(signal.SIGALRM, alarm)
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
