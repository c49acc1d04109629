"""Hash many files on all cores, results in input order, memory and time bounded.

A process pool (decoding and PDQ hold the GIL for long stretches) works through a window of
at most a few jobs per worker, so memory stays bounded however large the input. A job not done
within the time limit becomes a per-file error and the pool is replaced, so one hostile image
cannot hang a scan.

A pool costs its start-up (each worker imports numpy, Pillow and pdqhash): a small job (one
file, or up to SMALL_JOB_FILES files under SMALL_JOB_BYTES) runs in the calling process when
the number of workers is left to us, where a large file still hashes on every core (see `hashing`). There is
no time limit there; asking for workers (`--workers 2`) always gets a pool, and the limit.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hashwarden.signals.hashing import ContentHashes, hash_bytes, hash_file

if TYPE_CHECKING:  # the pool's modules are imported when a pool is made, not for a small job
    from concurrent.futures import Future, ProcessPoolExecutor

__all__ = [
    "DEFAULT_TIMEOUT",
    "SMALL_JOB_BYTES",
    "SMALL_JOB_FILES",
    "default_workers",
    "hash_in_parallel",
]

T = TypeVar("T")
Source = Path | bytes
Outcome = tuple[ContentHashes | None, str | None]

#: Seconds one file may take before it is reported as an error (in a pool).
DEFAULT_TIMEOUT = 120.0
#: A job of one file, or of at most this many files of together fewer bytes than
#: SMALL_JOB_BYTES, is hashed in the calling process unless workers are asked for: a pool's
#: start-up (about 2 s, each worker importing numpy, Pillow and pdqhash) costs more than it
#: saves on it; measured in docs/bench/hashing_speed.md.
SMALL_JOB_FILES = 32
SMALL_JOB_BYTES = 128 * 1024 * 1024


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def _hash_one(
    source: Source,
    pdq_mode: str,
    variants: bool,
    extra_kinds: Collection[str] | None,
    views: Sequence[str] = (),
) -> Outcome:
    try:
        if isinstance(source, bytes):
            hashes = hash_bytes(
                source, pdq_mode=pdq_mode, variants=variants, extra_kinds=extra_kinds, views=views
            )
        else:
            hashes = hash_file(
                source, pdq_mode=pdq_mode, variants=variants, extra_kinds=extra_kinds, views=views
            )
        return hashes, None
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    except MemoryError:
        return None, "out of memory while hashing"
    except Exception as exc:  # one file's surprise must not stop a scan of thousands
        return None, f"could not be hashed ({type(exc).__name__}: {exc})"


def _size(what: Source | None) -> int:
    if what is None:
        return 0
    if isinstance(what, bytes):
        return len(what)
    try:
        return what.stat().st_size
    except OSError:
        return 0  # reported when it is hashed


def _look_ahead(
    pairs: Iterator[tuple[T, Source | None]],
) -> tuple[list[tuple[T, Source | None]], bool]:
    """(the first items, whether they are the whole of a small job): one file (a large one
    hashes on every core anyway), or at most SMALL_JOB_FILES of together fewer than
    SMALL_JOB_BYTES. Reads no further than the item that makes the job large."""
    first: list[tuple[T, Source | None]] = []
    hashed = total = 0
    for pair in pairs:
        first.append(pair)
        if pair[1] is not None:
            hashed += 1
            total += _size(pair[1])
        if len(first) > SMALL_JOB_FILES or (hashed > 1 and total >= SMALL_JOB_BYTES):
            return first, False
    return first, True


def _new_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


def _kill(pool: ProcessPoolExecutor) -> None:
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def hash_in_parallel(
    items: Iterable[T],
    source: Callable[[T], Source | None],
    *,
    workers: int | None = None,
    pdq_mode: str = "fast",
    variants: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    extra_kinds: Collection[str] | None = None,
    views: Sequence[str] = (),
) -> Iterator[tuple[T, ContentHashes | None, str | None]]:
    """(item, hashes, error) for each item in order; `source` gives a path or bytes to hash,
    or None for an item not to hash (yielded with neither hashes nor error). `workers`: the
    processes of the pool (1: none); None: one per core, or none for a small job.
    `extra_kinds`, `views`: as `hash_stream` takes them (`extra_kinds` None: every kind a
    registered hasher computes)."""
    count = workers or default_workers()
    pairs: Iterator[tuple[T, Source | None]] = ((item, source(item)) for item in items)
    if workers is None and count > 1:
        first, small = _look_ahead(pairs)
        if small:
            count = 1
        pairs = itertools.chain(first, pairs)
    if count == 1:
        for item, what in pairs:
            yield (
                (item, None, None)
                if what is None
                else (item, *_hash_one(what, pdq_mode, variants, extra_kinds, views))
            )
        return
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    pool = _new_pool(count)
    window: deque[tuple[T, Source | None, Future[Outcome] | None]] = deque()
    limit = count * 3

    def submit(item: T, what: Source | None) -> None:
        future = (
            None
            if what is None
            else pool.submit(_hash_one, what, pdq_mode, variants, extra_kinds, views)
        )
        window.append((item, what, future))

    def collect() -> tuple[T, ContentHashes | None, str | None]:
        nonlocal pool
        item, _, future = window.popleft()
        if future is None:
            return item, None, None
        try:
            return (item, *future.result(timeout=timeout))
        except (FutureTimeout, BrokenProcessPool) as exc:
            reason = (
                f"hashing took longer than {timeout:.0f} s, stopped"
                if isinstance(exc, FutureTimeout)
                else "the hashing process crashed"
            )
            _kill(pool)
            pool = _new_pool(count)
            pending = list(window)
            window.clear()
            for other, other_what, _ in pending:
                submit(other, other_what)
            return item, None, reason

    try:
        for item, what in pairs:
            submit(item, what)
            while len(window) >= limit:
                yield collect()
        while window:
            yield collect()
    finally:
        if window:  # abandoned early (an error or the consumer stopped): stop the work
            _kill(pool)
        else:
            pool.shutdown(wait=True)
