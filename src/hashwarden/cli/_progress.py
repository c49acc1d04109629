"""Walking and hashing files on disk with a Rich progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hashwarden.cli._app import err_console
from hashwarden.signals import ContentHashes, hash_file

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


def hashed_files(
    paths: Iterable[Path], label: str
) -> Iterator[tuple[Path, ContentHashes | None, str | None]]:
    """(path, hashes, error) for every file, with a progress bar on standard error."""
    files = list(walk_files(paths))
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(files))
        for path in files:
            try:
                if path.is_symlink():
                    yield path, None, "symbolic link, not followed"
                elif not path.exists():
                    yield path, None, "no such file"
                else:
                    yield path, hash_file(path), None
            except OSError as exc:
                yield path, None, exc.strerror or str(exc)
            bar.advance(task)
