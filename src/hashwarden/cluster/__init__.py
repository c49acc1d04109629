"""Running the heavy part of `scan`, `hash` and `retro` on a Dask distributed cluster
(`--cluster tcp://HOST:PORT`): hashing file by file, and retro-hunting part by part.

Dask is an optional dependency (`pip install 'hashwarden[cluster]'`), imported only here and
only when a cluster is used. The results are those of a run on one machine: hashing keeps the
order of the files, retro-hunt hits are sorted. A task whose worker dies is run again on
another (Dask's scheduler does this); a file whose hashing kills workers again and again is
reported as an error, as a crash of the local hashing pool is. A scheduler that cannot be
reached, or goes away, ends the command with exit 8 (`ClusterUnavailableError`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any, TypeVar

from hashwarden.cases.retro import Hit, NewEntries, Part, match_part
from hashwarden.errors import ClusterUnavailableError, UsageError
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.parallel import Outcome, Source, _hash_one

__all__ = ["CONNECT_TIMEOUT", "Cluster", "connect"]

T = TypeVar("T")

#: Seconds to wait for the scheduler when connecting.
CONNECT_TIMEOUT = 10
#: Files hashed by one task.
BATCH = 16
#: Tasks retried on another worker when theirs fails (on top of Dask's own rescheduling of
#: tasks whose worker died).
RETRIES = 2


def _client_class() -> Any:
    try:
        from distributed import Client
    except ImportError as exc:  # the optional dependency
        raise UsageError(
            "--cluster needs Dask distributed: pip install 'hashwarden[cluster]'"
        ) from exc
    return Client


def _lost(exc: BaseException) -> bool:
    """Whether an error means the scheduler went away, not one task's failure: the client
    cancels every pending task when its connection to the scheduler is lost (this module
    cancels tasks only once it stops waiting for them)."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    return isinstance(exc, OSError | TimeoutError | CommClosedError | CancelledError)


def _hash_batch(
    sources: list[Source | None],
    pdq_mode: str,
    variants: bool,
    extra_kinds: list[str] | None,
    views: tuple[str, ...] = (),
) -> list[Outcome]:
    """Run on a worker: each source's hashes (an item not to hash: neither hashes nor error)."""
    return [
        (None, None) if what is None else _hash_one(what, pdq_mode, variants, extra_kinds, views)
        for what in sources
    ]


class Cluster:
    """A connection to a Dask scheduler; use it as a context manager."""

    def __init__(self, client: Any, address: str) -> None:
        self.client = client
        self.address = address

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Closing a connection that is gone already: nothing to lose.
        with suppress(Exception):
            self.client.close()

    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def _unavailable(self, exc: BaseException) -> ClusterUnavailableError:
        return ClusterUnavailableError(
            f"the Dask scheduler at {self.address} went away ({type(exc).__name__}: {exc})"
        )

    # -- hashing ----------------------------------------------------------------------------
    def hash_in_parallel(
        self,
        items: Iterable[T],
        source: Callable[[T], Source | None],
        *,
        workers: int | None = None,
        pdq_mode: str = "fast",
        variants: bool = False,
        timeout: float | None = None,
        extra_kinds: Collection[str] | None = None,
        views: Sequence[str] = (),
    ) -> Iterator[tuple[T, ContentHashes | None, str | None]]:
        """`signals.parallel.hash_in_parallel` on the cluster: (item, hashes, error) for each
        item, in order. Files go to the workers in batches of `BATCH` (one task each, so the
        cluster's per-task cost is shared); paths are read by the workers (shared storage),
        archive members are sent to them. A batch whose worker died every time it ran is
        hashed again file by file, so only the file that kills workers is reported as an
        error. `workers` and `timeout` are the local pool's and ignored here."""
        from distributed import KilledWorker

        kinds = None if extra_kinds is None else sorted(extra_kinds)
        options = (pdq_mode, variants, kinds, tuple(views))
        window: deque[tuple[list[tuple[T, Source | None]], Any]] = deque()
        limit = max(2, 2 * self.workers())

        def submit(batch: list[tuple[T, Source | None]]) -> Any:
            sources = [what for _, what in batch]
            return self.client.submit(_hash_batch, sources, *options, pure=False, retries=RETRIES)

        def outcomes(batch: list[tuple[T, Source | None]], future: Any) -> list[Outcome]:
            try:
                return list(future.result())
            except KilledWorker:
                if len(batch) == 1:
                    return [(None, "the hashing worker died each time it was given this file")]
                return [o for one in batch for o in outcomes([one], submit([one]))]
            except Exception as exc:
                if _lost(exc):
                    raise self._unavailable(exc) from exc
                reason = f"could not be hashed ({type(exc).__name__}: {exc})"
                return [(None, reason)] * len(batch)
            finally:
                future.release()

        def collect() -> Iterator[tuple[T, ContentHashes | None, str | None]]:
            batch, future = window.popleft()
            for (item, _), (hashes, error) in zip(batch, outcomes(batch, future), strict=True):
                yield item, hashes, error

        pending: list[tuple[T, Source | None]] = []
        try:
            for item in items:
                pending.append((item, source(item)))
                if len(pending) >= BATCH:
                    window.append((pending, submit(pending)))
                    pending = []
                    if len(window) >= limit:
                        yield from collect()
            if pending:
                window.append((pending, submit(pending)))
            while window:
                yield from collect()
        finally:
            for _, future in window:
                future.cancel()

    # -- retro-hunting ----------------------------------------------------------------------
    def run_parts(
        self,
        parts: list[Part],
        new: NewEntries,
        threshold: int,
        part_done: Callable[[], None] = lambda: None,
    ) -> list[Hit]:
        """`cases.retro.run_locally` on the cluster: every part a task (the store is read by
        the workers from shared storage), the new entries sent once to every worker;
        `part_done` called for each task's result, in the order of the parts."""
        try:
            shared = self.client.scatter(new, broadcast=True, hash=False)
            futures = [
                self.client.submit(match_part, part, shared, threshold, pure=False, retries=RETRIES)
                for part in parts
            ]
            results = []
            for future in futures:
                results.append(future.result())
                part_done()
        except Exception as exc:
            if _lost(exc):
                raise self._unavailable(exc) from exc
            raise
        return sorted(hit for hits in results for hit in hits)


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT) -> Cluster:
    """Connect to the Dask scheduler at `address` (`tcp://HOST:PORT`); exit 8 when it cannot
    be reached within `timeout` seconds."""
    if "://" not in address:
        raise UsageError(
            f"--cluster takes a scheduler address such as tcp://host:8786, not {address!r}"
        )
    client_class = _client_class()
    try:
        client = client_class(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailableError(
            f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc})"
        ) from exc
    return Cluster(client, address)
