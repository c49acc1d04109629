"""Hashing files on disk with a Rich progress bar, over the scan's own walk
(`hashwarden.scan.walk`): every command sees the same files and skips the same things."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashwarden.cli._app import err_console

if TYPE_CHECKING:
    from hashwarden.signals import ContentHashes

__all__ = ["bar_on_stderr", "hashed_files", "progress_bar"]


def _draws_on_stderr() -> bool:
    """Whether Rich would draw a bar on standard error (as `rich.console.Console` decides
    whether it writes to a terminal), so that Rich is not loaded for a bar nobody sees."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return sys.stderr.isatty()
    except ValueError:  # closed
        return False


class _NoBar:
    """A progress bar that draws nothing: one file (a bar would only flicker), or no terminal."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: int) -> int:
        return 0

    def advance(self, task: int) -> None:
        return None


def progress_bar() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console.rich(),
        transient=True,
    )


def bar_on_stderr(worth_drawing: bool = True) -> Any:
    """A progress bar on standard error when one is worth drawing and Rich would draw it (a
    terminal), else one that draws nothing."""
    return progress_bar() if worth_drawing and _draws_on_stderr() else _NoBar()


def hashed_files(
    paths: Iterable[Path],
    label: str,
    *,
    workers: int | None = None,
    pdq_mode: str = "fast",
    leave_out: Callable[[Path], bool] = lambda path: False,
    extra_kinds: Collection[str] | None = None,
    views: Sequence[str] = (),
    hasher: Callable[..., Iterator[Any]] | None = None,
) -> Iterator[tuple[Path, ContentHashes | None, str | None]]:
    """(path, hashes, error) for every file under the paths but those `leave_out` names,
    hashed on all cores, with a progress bar; a skipped path comes with the reason.
    `extra_kinds`, `views` as `hash_stream` takes them (`extra_kinds` None: every kind a
    registered hasher computes). `hasher` hashes in place of `hash_in_parallel`, e.g. on a
    Dask cluster."""
    from hashwarden.scan.walk import walk_files
    from hashwarden.signals.parallel import hash_in_parallel

    found = [f for f in walk_files(paths) if not leave_out(f.path)]
    with bar_on_stderr(len(found) > 1) as bar:
        task = bar.add_task(label, total=len(found))
        results = (hasher or hash_in_parallel)(
            found,
            lambda f: None if f.error else f.path,
            workers=workers,
            pdq_mode=pdq_mode,
            extra_kinds=extra_kinds,
            views=views,
        )
        for item, hashes, error in results:
            yield item.path, hashes, error or item.error
            bar.advance(task)
