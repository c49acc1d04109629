"""Walking and hashing files on disk with a Rich progress bar."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hashwarden.cli._app import err_console
from hashwarden.signals import ContentHashes
from hashwarden.signals.parallel import hash_in_parallel

__all__ = ["hashed_files", "progress_bar", "walk_files"]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def walk_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Regular files under the paths, in a stable order, never following symbolic links."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


def _problem(path: Path) -> str | None:
    if path.is_symlink():
        return "symbolic link, not followed"
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a regular file"
    return None


def hashed_files(
    paths: Iterable[Path],
    label: str,
    *,
    workers: int | None = None,
    pdq_mode: str = "fast",
    extra_kinds: Collection[str] | None = None,
) -> Iterator[tuple[Path, ContentHashes | None, str | None]]:
    """(path, hashes, error) for every file, hashed on all cores, with a progress bar;
    `extra_kinds` as `hash_stream` takes them (None: every kind a registered hasher computes)."""
    files = list(walk_files(paths))
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(files))
        results = hash_in_parallel(
            files,
            lambda p: None if _problem(p) else p,
            workers=workers,
            pdq_mode=pdq_mode,
            extra_kinds=extra_kinds,
        )
        for path, hashes, error in results:
            yield path, hashes, error or (None if hashes else _problem(path))
            bar.advance(task)
