"""Noticing files: file-system events (watchdog: inotify on Linux, the native APIs elsewhere),
files settling before they are read, and removable media appearing.

A file is examined once it is complete: its size and modification time unchanged since the
last event and, where the system can tell cheaply (Linux leases), no process holding it open
for writing; where it cannot tell, unchanged for the settle interval. A file still being
written (a download, a copy) is looked at again after the settle interval.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

__all__ = ["MediaMonitor", "Pending", "Watcher", "open_for_writing"]

#: The events that can mean new content; opens, reads and attribute changes are not asked for.
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]
#: A file with no writer is taken this long after its last change (enough for the writer's
#: own last metadata update after closing).
QUIET_S = 0.1


def open_for_writing(path: str) -> bool | None:
    """Whether some process holds the file open for writing: asked by taking a read lease
    (Linux; the lease is refused while a writer has the file open) and dropping it at once.
    None when it cannot be told: another system, a file system without leases, a file of
    another user without CAP_LEASE, or SIGIO not ignored (a lease broken meanwhile would
    send it, and its default action ends the process)."""
    lease = getattr(fcntl, "F_SETLEASE", None)
    if lease is None or signal.getsignal(signal.SIGIO) is not signal.SIG_IGN:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return None
    except OSError:
        return None
    try:
        try:
            fcntl.fcntl(fd, lease, fcntl.F_RDLCK)
        except OSError as exc:
            return True if exc.errno in (errno.EAGAIN, errno.EBUSY) else None
        fcntl.fcntl(fd, lease, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


@dataclass
class _Waiting:
    #: (size, mtime_ns) at the last event or check; None if the file could not be read.
    signature: tuple[int, int] | None
    #: When the file last changed (or an event said so).
    changed: float
    #: When to look at it next.
    due: float


def _signature(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_size, info.st_mtime_ns


class Pending:
    """Files with recent events, waiting to be complete; folders waiting to be walked.
    Thread-safe: the watchdog thread adds, the agent's worker takes."""

    def __init__(
        self,
        settle_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        writers: Callable[[str], bool | None] = open_for_writing,
    ) -> None:
        self.settle_s = settle_s
        self._clock = clock
        self._writers = writers
        self._files: dict[str, _Waiting] = {}
        self._folders: list[str] = []
        self._lock = threading.Lock()
        #: Set when something was added (the worker waits on it).
        self.wake = threading.Event()

    def __len__(self) -> int:
        with self._lock:
            return len(self._files) + len(self._folders)

    def file(self, path: str) -> None:
        now = self._clock()
        with self._lock:
            self._files[path] = _Waiting(_signature(path), now, now + QUIET_S)
        self.wake.set()

    def folder(self, path: str) -> None:
        with self._lock:
            self._folders.append(path)
        self.wake.set()

    def folders(self) -> list[str]:
        with self._lock:
            taken, self._folders = self._folders, []
        return taken

    def due(self) -> list[str]:
        """The files complete now, oldest first; the rest wait on."""
        now = self._clock()
        with self._lock:
            candidates = [(p, w) for p, w in self._files.items() if w.due <= now]
        ready = []
        for path, waiting in sorted(candidates, key=lambda c: c[1].changed):
            signature = _signature(path)
            verdict: float | None  # None: take it; else when to look again
            if signature is None:
                verdict = -1.0  # gone, or not a regular file: dropped
            elif signature != waiting.signature:
                waiting.signature, waiting.changed = signature, now
                verdict = now + QUIET_S
            else:
                writing = self._writers(path)
                if writing is True:
                    verdict = now + self.settle_s
                elif writing is False or now - waiting.changed >= self.settle_s:
                    verdict = None
                else:
                    verdict = waiting.changed + self.settle_s
            with self._lock:
                if self._files.get(path) is not waiting:
                    continue  # a new event came meanwhile: it decides
                if verdict is None or verdict < 0:
                    del self._files[path]
                    if verdict is None:
                        ready.append(path)
                else:
                    waiting.due = verdict
        return ready

    def next_due(self) -> float | None:
        """Seconds until a file is to be looked at again (None: none waiting)."""
        with self._lock:
            if self._folders:
                return 0.0
            if not self._files:
                return None
            return max(0.0, min(w.due for w in self._files.values()) - self._clock())


class _Handler(FileSystemEventHandler):
    def __init__(self, pending: Pending, skip: Callable[[str], bool]) -> None:
        self.pending = pending
        self.skip = skip

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = event.dest_path if isinstance(event, FileMovedEvent | DirMovedEvent) else None
        target = os.fsdecode(path or event.src_path)
        if not target or self.skip(target):
            return
        if event.is_directory:
            if isinstance(event, DirCreatedEvent | DirMovedEvent):
                self.pending.folder(target)
            return
        self.pending.file(target)


class Watcher:
    """Watches folders recursively and feeds `Pending`; watches can be added and removed
    while it runs (media)."""

    def __init__(self, pending: Pending, skip: Callable[[str], bool]) -> None:
        from watchdog.observers import Observer

        self._observer = Observer()
        self._handler = _Handler(pending, skip)
        self._watches: dict[str, object] = {}

    def start(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.add(path)
        self._observer.start()

    def add(self, path: Path) -> None:
        key = str(path)
        if key in self._watches:
            return
        recursive = path.is_dir()
        target = path if recursive else path.parent
        self._watches[key] = self._observer.schedule(
            self._handler, str(target), recursive=recursive, event_filter=EVENTS
        )

    def remove(self, path: Path) -> None:
        watch = self._watches.pop(str(path), None)
        if watch is not None:
            with suppress(KeyError, OSError):  # the medium went away with its watch
                self._observer.unschedule(watch)  # type: ignore[arg-type]

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=10)


_OCTAL = re.compile(r"\\([0-7]{3})")


def _mount_points() -> set[str]:
    """Mount points from /proc/self/mountinfo (its field 5, octal escapes undone)."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return set()
    points = set()
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) > 4:
            points.add(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), parts[4]))
    return points


class MediaMonitor:
    """Finds removable media as they appear under the media roots: new mount points there
    (`need_mount`), or any new folder directly in a root (without)."""

    def __init__(self, roots: Iterable[Path], *, need_mount: bool = True) -> None:
        self.roots = [r for r in roots]
        self.need_mount = need_mount
        self.known: set[Path] = set()

    def present(self) -> set[Path]:
        if self.need_mount:
            found = set()
            for point in _mount_points():
                path = Path(point)
                if any(root in path.parents for root in self.roots):
                    found.add(path)
            return found
        found = set()
        for root in self.roots:
            try:
                entries = list(os.scandir(root))
            except OSError:
                continue
            found |= {Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)}
        return found

    def check(self) -> tuple[list[Path], list[Path]]:
        """(media new since the last check, media gone), each sorted."""
        now = self.present()
        new, gone = sorted(now - self.known), sorted(self.known - now)
        self.known = now
        return new, gone
