"""`hashwarden scan --bloom FILE PATH...`: field triage without the bank.

Every file and archive member under the paths (the scan's own walk, within its limits) is
hashed with the digests the filter holds and checked against it. A file the filter may hold is
a candidate, listed with its hashes so it can be confirmed against the bank later (`hashwarden
match BANK --md5 ...`): a Bloom filter has false candidates, never misses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashwarden.cli._app import err_console
from hashwarden.cli._options import output, where
from hashwarden.errors import EXIT_CLEAN, EXIT_ERRORS, EXIT_MATCHES, EXIT_MATCHES_AND_ERRORS

if TYPE_CHECKING:
    from hashwarden.exchange.bloom import BloomFilter
    from hashwarden.scan import Limits
    from hashwarden.scan.reader import Item

__all__ = ["bloom_triage"]

_CHUNK = 1 << 20


def _digests(item: Item, kinds: list[str]) -> dict[str, str]:
    hashers = {kind: hashlib.new(kind) for kind in kinds}
    if item.data is not None:
        for hasher in hashers.values():
            hasher.update(item.data)
    elif item.disk_path is not None:
        with item.disk_path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
    return {kind: hasher.hexdigest() for kind, hasher in hashers.items()}


def _records(
    paths: list[Path], bloom: BloomFilter, limits: Limits, counts: dict[str, int]
) -> Iterator[dict[str, Any]]:
    """Records of the candidates and of what could not be read; `counts` tallies all."""
    from hashwarden.scan.reader import read_items

    kinds = bloom.kinds
    for item in read_items(paths, limits):
        if item.error:
            counts["errors"] += 1
            yield {"path": item.path, "error": item.error}
            continue
        try:
            digests = _digests(item, kinds)
        except OSError as exc:
            counts["errors"] += 1
            yield {"path": item.path, "error": f"cannot read: {exc.strerror}"}
            continue
        counts["checked"] += 1
        found = [kind for kind, value in digests.items() if value in bloom]
        if found:
            counts["candidates"] += 1
            yield {"path": item.path, "candidate": found, **digests}


def bloom_triage(paths: list[Path], bloom: BloomFilter, limits: Limits, out: Path | None) -> int:
    """Check the files against the filter, write the candidates (and unreadable files) as
    JSON lines to `out` or standard output, and return the exit code."""
    counts = {"checked": 0, "candidates": 0, "errors": 0}
    with output(out) as stream:
        for record in _records(paths, bloom, limits, counts):
            stream.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    err_console.print(
        f"checked {counts['checked']} files against {bloom.path} ({', '.join(bloom.kinds)}):"
        f" {counts['candidates']} candidates, {counts['errors']} not read; written to"
        f" {where(out)}. A filter's candidates include false ones (about"
        f" {bloom.expected_error_rate():.2g} of files not in the list): confirm them against"
        " the bank.",
        markup=False,
    )
    if counts["candidates"]:
        return EXIT_MATCHES_AND_ERRORS if counts["errors"] else EXIT_MATCHES
    return EXIT_ERRORS if counts["errors"] else EXIT_CLEAN
