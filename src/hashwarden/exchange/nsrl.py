"""NIST NSRL RDSv3 (its SQLite release) into a known-good set, streamed.

The distinct hashes are read (the DISTINCT_HASH view where the release has it, else FILE) in
batches, so the full modern set, tens of millions of rows, imports in bounded memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from hashwarden.errors import DataError
from hashwarden.exchange.base import signal_or_error
from hashwarden.signals.base import Signal

__all__ = ["read_nsrl"]

_BATCH = 50_000


def read_nsrl(path: Path, *, on_rows: Callable[[int], None] | None = None) -> Iterator[Signal]:
    """Every SHA-256, SHA-1 and MD5 of the release's distinct hashes (lower-cased)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not an NSRL RDSv3 SQLite database ({exc})") from exc
    source = "DISTINCT_HASH" if "DISTINCT_HASH" in tables else "FILE" if "FILE" in tables else None
    if source is None:
        conn.close()
        raise DataError(f"{path} has neither a DISTINCT_HASH view nor a FILE table (not RDSv3)")
    try:
        cursor = conn.execute(f"SELECT sha256, sha1, md5 FROM {source}")
        row_number = 0
        while rows := cursor.fetchmany(_BATCH):
            for sha256, sha1, md5 in rows:
                row_number += 1
                where = f"{path.name} {source} row {row_number}"
                for kind, value in (("sha256", sha256), ("sha1", sha1), ("md5", md5)):
                    if value:
                        yield signal_or_error(kind, value, where)
            if on_rows is not None:
                on_rows(len(rows))
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: cannot read {source} ({exc})") from exc
    finally:
        conn.close()
