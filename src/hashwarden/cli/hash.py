"""`hashwarden hash`: the fingerprints of files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.cli._app import console
from hashwarden.cli._options import (
    ClusterOpt,
    PdqModeOpt,
    WorkersOpt,
    check_paths,
    check_pdq_mode,
)
from hashwarden.cli._progress import hashed_files
from hashwarden.errors import EXIT_ERRORS


def hash_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Files or folders (recursively).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
    p2p: Annotated[
        bool, typer.Option("--p2p", help="Also print the P2P identifiers (ed2k, tth, btih...).")
    ] = False,
    cluster: ClusterOpt = None,
) -> None:
    """Print the fingerprints of files.

    md5, sha1, sha256 and, for images, pdq and pdq_quality (vpdq for videos). Exit 6 when some
    files could not be read; 4 when a path is not there (before hashing anything). With
    --p2p also ed2k, tth, btih, btmh and bt_root (computed only when asked). With --cluster
    the files are hashed on a Dask cluster that reads them from shared storage (exit 8 when
    its scheduler cannot be reached)."""
    # numpy only hands pictures to PDQ here, never does linear algebra: one OpenBLAS thread
    # (unless the user chose), not one per core started, and spinning, as numpy is imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    mode = check_pdq_mode(pdq_mode)
    extra: tuple[str, ...] = ()
    if p2p:
        from hashwarden.p2p.kinds import P2P_KINDS

        extra = tuple(k.name for k in P2P_KINDS)
    found = check_paths(paths)
    with ExitStack() as stack:
        hasher = None
        if cluster is not None:
            from hashwarden.cluster import connect

            hasher = stack.enter_context(connect(cluster)).hash_in_parallel
        failed = _print_hashes(found, as_json, mode, workers, extra, hasher)
    if failed:
        raise typer.Exit(EXIT_ERRORS)


def _print_hashes(
    paths: list[Path],
    as_json: bool,
    mode: str,
    workers: int | None,
    extra: tuple[str, ...],
    hasher: Callable[..., Iterator[Any]] | None,
) -> bool:
    """Print each file's hashes as they come; whether some could not be read."""
    failed = False
    for path, hashes, error in hashed_files(
        paths, "hashing", workers=workers, pdq_mode=mode, extra_kinds=extra, hasher=hasher
    ):
        record: dict[str, Any] = {"path": str(path)}
        if hashes is None:
            failed = True
            record["error"] = error
        else:
            record.update(
                md5=hashes.md5,
                sha1=hashes.sha1,
                sha256=hashes.sha256,
                pdq=hashes.pdq,
                pdq_quality=hashes.pdq_quality,
            )
            if hashes.vpdq is not None:
                record["vpdq"] = hashes.vpdq
            record.update((k, hashes.extra[k]) for k in extra if k in hashes.extra)
            if hashes.image_error:
                record["error"] = hashes.image_error
        if as_json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            fields = "  ".join(
                f"{k}={v}" for k, v in record.items() if k != "path" and v is not None
            )
            console.print(f"{path}  {fields}", markup=False)
    return failed
