"""The one walk over files on disk, shared by the scan and the commands that hash files
(`hash`, `bank add-files`), so every command sees the same files in the same order and skips
the same things for the same reasons."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Found", "walk_files"]


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file (with `size`), or something skipped (with the `error` saying why)."""

    path: Path
    size: int | None = None
    error: str | None = None


def walk_files(paths: Iterable[Path]) -> Iterator[Found]:
    """Every regular file under the paths, folders recursively in byte order of names;
    anything else (a symbolic link, never followed; a device; a folder or path that cannot be
    read) with the reason it was skipped."""
    for root in paths:
        yield from _walk(root)


def _walk(root: Path) -> Iterator[Found]:
    try:
        info = root.lstat()
    except OSError as exc:
        yield Found(root, error=f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISLNK(info.st_mode):
        yield Found(root, error="symbolic link, not followed")
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            children = sorted(os.scandir(root), key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            yield Found(root, error=f"cannot list folder: {exc.strerror or exc}")
            return
        for child in children:
            yield from _walk(Path(child.path))
        return
    if not stat.S_ISREG(info.st_mode):
        yield Found(root, error="not a regular file (device, socket or pipe), skipped")
        return
    yield Found(root, size=info.st_size)
