"""Sweeps: every file under the watched paths examined, at start and then at an interval.

A sweep walks the paths depth first, each folder's entries in byte order of their names, so
the walk has one order and the last file done (the checkpoint, saved every few hundred files
and every few seconds in the state folder) says where a restarted agent resumes: files up to
it are skipped without being listed again. Unchanged files cost a `stat` and a look-up in the
seen cache; a new bank version makes every file due again (see `StateDb`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hashwarden.agent.state import StateDb

__all__ = ["Position", "SweepRecord", "Sweeper", "walk"]

#: (root number, names from the root down as bytes): where a file is in the walk's order.
Position = tuple[int, tuple[bytes, ...]]
SAVE_EVERY_FILES = 500
SAVE_EVERY_S = 5.0


def _walk_folder(
    folder: str,
    root: int,
    rel: tuple[bytes, ...],
    resume: tuple[bytes, ...] | None,
    skip: Callable[[str], bool],
) -> Iterator[tuple[str, Position]]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: os.fsencode(e.name))
    except OSError:
        return  # gone, or not readable: the next sweep tries again
    for entry in entries:
        key = (*rel, os.fsencode(entry.name))
        inner = None
        if resume is not None:
            prefix = resume[: len(key)]
            if key < prefix:
                continue  # wholly before the checkpoint
            if key == prefix:
                if len(key) == len(resume):
                    resume = None  # the checkpoint itself: done before
                    continue
                inner = resume  # the checkpoint is inside this folder
            resume = None  # whatever follows is after it
        if skip(entry.path):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk_folder(entry.path, root, key, inner, skip)
            elif entry.is_file(follow_symlinks=False):
                yield entry.path, (root, key)
        except OSError:
            continue


def walk(
    roots: list[Path], skip: Callable[[str], bool], after: Position | None = None
) -> Iterator[tuple[str, Position]]:
    """(path, position) of every regular file under the roots in walk order, starting after
    the position `after` (no symbolic link followed)."""
    for number, root in enumerate(roots):
        if after is not None and number < after[0]:
            continue
        resume = after[1] if after is not None and number == after[0] else None
        text = str(root)
        if skip(text):
            continue
        if root.is_file() and not root.is_symlink():
            if resume is None:
                yield text, (number, ())
            continue
        yield from _walk_folder(text, number, (), resume, skip)


@dataclass
class SweepRecord:
    """One sweep, as kept in the state folder (`meta` key `sweep`)."""

    number: int
    started: float
    finished: float | None = None
    #: The last file done: (root number, names as text with surrogate escapes).
    position: list[Any] | None = None
    files: int = 0
    hashed: int = 0
    alerts: int = 0

    def checkpoint(self) -> Position | None:
        if self.position is None:
            return None
        root, names = self.position
        return int(root), tuple(os.fsencode(n) for n in names)


class Sweeper:
    """Decides when a sweep runs and walks it from its checkpoint."""

    def __init__(
        self,
        db: StateDb,
        roots: list[Path],
        every_s: float,
        skip: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.roots = roots
        self.every_s = every_s
        self.skip = skip
        self._clock = clock
        saved = db.get("sweep")
        self.record = SweepRecord(**saved) if saved else None
        self._files: Iterator[tuple[str, Position]] | None = None
        self._saved = (0, clock())

    @property
    def number(self) -> int:
        """The sweep running, or the last one (0 before the first)."""
        return self.record.number if self.record is not None else 0

    @property
    def running(self) -> bool:
        return self.record is not None and self.record.finished is None

    def due_in(self) -> float:
        """Seconds until a sweep should run (0: now, or one is running)."""
        if self.record is None or self.record.finished is None:
            return 0.0
        return max(0.0, self.record.finished + self.every_s - self._clock())

    def next_file(self) -> str | None:
        """The next file of the running sweep (starting one when due), or None when no sweep
        is due or the running one just ended."""
        if not self.running:
            if self.due_in() > 0:
                return None
            self.record = SweepRecord(self.number + 1, self._clock())
            self._save()
        if self._files is None:
            assert self.record is not None
            self._files = walk(self.roots, self.skip, self.record.checkpoint())
        for path, position in self._files:
            self._position = position
            return path
        self._finish()
        return None

    def done(self, *, hashed: bool, alerts: int) -> None:
        """The file `next_file` gave is done: counted, and the checkpoint moves past it."""
        record = self.record
        if record is None:
            return
        root, names = self._position
        record.position = [root, [os.fsdecode(n) for n in names]]
        record.files += 1
        record.hashed += int(hashed)
        record.alerts += alerts
        count, when = self._saved
        if record.files - count >= SAVE_EVERY_FILES or self._clock() - when >= SAVE_EVERY_S:
            self._save()

    def _finish(self) -> None:
        record = self.record
        assert record is not None
        record.finished = self._clock()
        self._files = None
        self._save()
        self.db.forget_before(record.number)

    def _save(self) -> None:
        if self.record is not None:
            self.db.put("sweep", asdict(self.record))
            self._saved = (self.record.files, self._clock())

    def save(self) -> None:
        """Keep the checkpoint now (the agent is stopping)."""
        self._save()
