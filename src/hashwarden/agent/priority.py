"""Staying out of the user's way: low CPU and I/O priority, and a CPU budget.

`lower_priority` raises the process's niceness and, on Linux, sets its I/O class to
best-effort, lowest level (the `ioprio_set` system call, as `ionice -c2 -n7` does); threads
started afterwards inherit both. Elsewhere only the niceness is changed (docs/agent.md).

`CpuBudget` is a token bucket of CPU seconds: it fills at `percent` of one core and holds at
most `burst_s` seconds, and the process's CPU time (every thread) drains it. The agent calls
`spend()` after each file, which sleeps while the bucket is in debt: over any stretch longer
than the burst the agent uses at most its share, while a single file dropped on an idle agent
is examined at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["CpuBudget", "lower_priority"]

#: `ioprio_set` numbers by machine (Linux); other machines keep their I/O class.
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "i686": 289, "i386": 289, "armv7l": 314}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_BE = 2
_IOPRIO_CLASS_SHIFT = 13


def lower_priority(nice: int) -> list[str]:
    """Lower this process's CPU and I/O priority; returns what was done (for the status)."""
    done = []
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
            done.append(f"nice +{nice}")
        except OSError:
            pass
    number = _IOPRIO_SET.get(platform.machine())
    if sys.platform.startswith("linux") and number is not None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        value = (_IOPRIO_CLASS_BE << _IOPRIO_CLASS_SHIFT) | 7
        if libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value) == 0:
            done.append("I/O best-effort level 7")
    return done


class CpuBudget:
    """Keeps the process's CPU time under `percent` of one core (see the module's text)."""

    def __init__(
        self,
        percent: float,
        *,
        burst_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
        stop: threading.Event | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.share = percent / 100.0
        self.burst_s = burst_s
        self._clock = clock
        self._cpu = cpu
        self._stop = stop or threading.Event()
        #: Waits the given seconds; True when the agent is stopping (then no more waiting).
        self._sleep = sleep or self._stop.wait
        self._tokens = burst_s
        self._last_wall = clock()
        self._last_cpu = cpu()
        #: Seconds spent waiting for the budget (for the status).
        self.waited_s = 0.0

    def _settle(self) -> None:
        wall, cpu = self._clock(), self._cpu()
        self._tokens += (wall - self._last_wall) * self.share - (cpu - self._last_cpu)
        self._tokens = min(self._tokens, self.burst_s)
        self._last_wall, self._last_cpu = wall, cpu

    def spend(self) -> float:
        """Count the CPU used since the last call and sleep off any debt; returns the
        seconds slept (0 when stopped)."""
        self._settle()
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self.share
        if self._sleep(wait):
            return 0.0
        self.waited_s += wait
        self._settle()
        return wait
