"""Per-key rate limits: a token bucket a key, holding one second's worth of requests.

`RateLimiter` counts in this process's memory. `SharedRateLimiter` counts in a small file the
workers of one node map into memory (`hashwarden serve --workers N` makes it in the node's
private directory), so a key's rate is the rate across all of them, not N times it; a lock on
the file makes each take atomic, and nothing is written to the bank. Replicas (other nodes)
each count their own: a key's rate across R replicas is up to R times its rate.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path

__all__ = ["RateLimiter", "SharedRateLimiter"]


def _take(
    tokens: float, last: float, now: float, rate_per_minute: int
) -> tuple[float, float | None]:
    """The bucket after one request at `now`: (tokens left, None), or (tokens, seconds until
    one is there) when it is refused."""
    per_second = rate_per_minute / 60.0
    burst = max(1.0, per_second)  # up to one second's worth at once
    tokens = min(burst, tokens + (now - last) * per_second)
    if tokens < 1.0:
        return tokens, (1.0 - tokens) / per_second
    return tokens - 1.0, None


def _full_at(tokens: float, now: float, rate_per_minute: int) -> float:
    """When a bucket holding `tokens` at `now` is full again (and as good as never used)."""
    per_second = rate_per_minute / 60.0
    return now + (max(1.0, per_second) - tokens) / per_second


class RateLimiter:
    """A token bucket per key name, in this process's memory."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, name: str, rate_per_minute: int) -> float | None:
        """None when the request may go ahead, else seconds until it could."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(name, (max(1.0, rate_per_minute / 60.0), now))
            tokens, wait = _take(tokens, last, now, rate_per_minute)
            self._buckets[name] = (tokens, now)
            return wait


#: A slot: the key name's hash (0: free), tokens, when they were counted and when the bucket
#: is full again (CLOCK_MONOTONIC seconds, one clock for every process of the machine).
_SLOT = struct.Struct("<Qddd")
SLOTS = 16_384
#: Slots looked at for a key before the one nearest to full is taken over.
_PROBES = 32


class SharedRateLimiter:
    """Token buckets in a file mapped by every worker of a node: `SLOTS` buckets, found by the
    key name's hash. A bucket that has filled up again is as good as free, so when the slots a
    key may use are taken (more keys at work at once than there are slots), the one nearest to
    full is reused."""

    def __init__(self, path: str | Path) -> None:
        size = _SLOT.size * SLOTS
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)  # zeros: every slot free
            self._map = mmap.mmap(self._fd, size)
        except OSError:
            os.close(self._fd)
            raise
        self._lock = threading.Lock()  # flock does not exclude this process's own threads

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def allow(self, name: str, rate_per_minute: int) -> float | None:
        """None when the request may go ahead, else seconds until it could."""
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
        key = key or 1
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = time.monotonic()
                offset, tokens, last = self._slot(key, now, max(1.0, rate_per_minute / 60.0))
                tokens, wait = _take(tokens, last, now, rate_per_minute)
                full = _full_at(tokens, now, rate_per_minute)
                _SLOT.pack_into(self._map, offset, key, tokens, now, full)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        return wait

    def _slot(self, key: int, now: float, burst: float) -> tuple[int, float, float]:
        """(offset, tokens, last) of the key's bucket: its own, else a free or full one (then
        a full bucket, counted from now)."""
        first = key % SLOTS
        spare: int | None = None
        nearest = (float("inf"), 0)
        for step in range(_PROBES):
            offset = ((first + step) % SLOTS) * _SLOT.size
            held, tokens, last, full_at = _SLOT.unpack_from(self._map, offset)
            if held == key:
                return offset, tokens, last
            if spare is None and (held == 0 or full_at <= now):
                spare = offset
            nearest = min(nearest, (full_at, offset))
        return (nearest[1] if spare is None else spare), burst, now
