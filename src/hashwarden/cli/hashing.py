"""`hashwarden hash` and `hashwarden match`: fingerprints of files, and single look-ups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.bank import open_bank
from hashwarden.cli._app import console
from hashwarden.cli._options import (
    Md5Opt,
    PdqModeOpt,
    PdqOpt,
    Sha1Opt,
    Sha256Opt,
    WorkersOpt,
    check_pdq_mode,
    signals_given,
)
from hashwarden.cli._progress import hashed_files
from hashwarden.index import BankMatcher
from hashwarden.p2p.kinds import P2P_KINDS


def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
    p2p: Annotated[
        bool, typer.Option("--p2p", help="Also print the P2P identifiers (ed2k, tth, btih...).")
    ] = False,
) -> None:
    """Print md5, sha1, sha256 and, for images, pdq and pdq_quality of each file."""
    failed = False
    mode = check_pdq_mode(pdq_mode)
    extra = tuple(k.name for k in P2P_KINDS) if p2p else ()
    hashed = hashed_files(paths, "hashing", workers=workers, pdq_mode=mode, extra_kinds=extra)
    for path, hashes, error in hashed:
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
            console.print(f"{path}  {fields}")
    if failed:
        raise typer.Exit(6)


def match_command(
    bank: Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")],
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    threshold: Annotated[int, typer.Option(min=0, max=256, help="PDQ distance.")] = 31,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Look one hash up in the bank. Exit 0: no match; 1: matched."""
    signals = {s.kind: s.value for s in signals_given(md5=md5, sha1=sha1, sha256=sha256, pdq=pdq)}
    with open_bank(bank, readonly=True) as b:
        result = BankMatcher(b, threshold=threshold).match(signals)
    if as_json:
        print(
            json.dumps(
                {
                    "query": signals,
                    "matches": [m.to_json() for m in result.matches],
                    "known_good": result.known_good,
                }
            )
        )
    else:
        for m in result.matches:
            console.print(
                f"entry {m.entry}  {m.kind} distance {m.distance}  {m.category}"
                f"{'  series ' + m.series if m.series else ''}"
            )
        for name in result.known_good:
            console.print(f"known good: {name}")
        if not result.matches and not result.known_good:
            console.print("no match")
    if result.matches:
        raise typer.Exit(1)
