"""NIST NSRL RDSv3 (its SQLite release) into a known-good set, streamed.

The distinct hashes are read (the DISTINCT_HASH view where the release has it, else FILE) in
batches, so the full modern set, tens of millions of rows, imports in bounded memory.

An RDS file is foreign input, and an SQLite file carries code: a view is a query that runs
when read (one that recurses never ends), a generated column an expression evaluated per row.
So the file is opened read-only and immutable with `trusted_schema` off, strings and blobs
are capped, and before anything is read the source is checked to be what NIST ships: an
ordinary table whose hash columns are stored, or a plain view (`SELECT [DISTINCT] columns
FROM one table or plain view`, nothing else) over one. Triggers cannot fire on a read-only
connection. A progress handler stops SQLite when it works on the file longer than
`deadline_s` (default 10 minutes) without handing over the next batch of rows.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hashwarden.errors import DataError
from hashwarden.exchange.base import signal_or_error
from hashwarden.signals.base import Signal

__all__ = ["DEFAULT_DEADLINE_S", "read_nsrl"]

_BATCH = 50_000
#: The longest SQLite may work on the file without handing over the next batch of rows.
DEFAULT_DEADLINE_S = 600.0
_PROGRESS_EVERY = 10_000  # SQLite VM instructions between deadline checks
_MAX_VALUE_BYTES = 64 * 1024  # a hash is at most 64 characters; other columns are not read
_MAX_VIEW_DEPTH = 4
_HASH_COLUMNS = ("sha256", "sha1", "md5")

_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_]*|"[A-Za-z_][A-Za-z0-9_]*"|\[[A-Za-z_][A-Za-z0-9_]*\])'
_COLUMN = rf"{_IDENT}(?:\.{_IDENT})?(?: (?:AS )?{_IDENT})?"
_PLAIN_VIEW = re.compile(
    rf"CREATE (?:TEMP |TEMPORARY )?VIEW (?:IF NOT EXISTS )?{_IDENT} AS"
    rf" SELECT (?:DISTINCT |ALL )?{_COLUMN}(?: ?, ?{_COLUMN})* FROM ({_IDENT})",
    re.IGNORECASE,
)
_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)


def _unquote(identifier: str) -> str:
    return identifier.strip('"[]')


def _check_source(conn: sqlite3.Connection, path: Path, name: str, depth: int = 0) -> None:
    """`name` is an ordinary table with stored hash columns, or a plain view over one."""
    row = conn.execute(
        "SELECT type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?"
        " COLLATE NOCASE",
        (name,),
    ).fetchone()
    if row is None:
        raise DataError(f"{path}: {name} is missing (not RDSv3)")
    kind, sql = row[0], " ".join(_COMMENTS.sub(" ", row[1] or "").split()).rstrip("; ")
    if kind == "table":
        if not sql.upper().startswith("CREATE TABLE"):
            raise DataError(f"{path}: {name} is not a plain table (NSRL ships one)")
        stored = {
            str(column).lower(): hidden
            for _, column, *_, hidden in conn.execute(f'PRAGMA table_xinfo("{name}")')
        }
        computed = [c for c in _HASH_COLUMNS if stored.get(c, 0) != 0]
        if computed:
            raise DataError(f"{path}: {name} has {', '.join(computed)} computed, not stored")
        return
    match = _PLAIN_VIEW.fullmatch(sql)
    if match is None or depth >= _MAX_VIEW_DEPTH:
        raise DataError(
            f"{path}: {name} is not a plain view (NSRL's is SELECT DISTINCT columns FROM FILE)"
        )
    base = _unquote(match.group(1))
    if base.lower() == name.lower():
        raise DataError(f"{path}: {name} is not a plain view (it reads itself)")
    try:
        _check_source(conn, path, base, depth + 1)
    except DataError as exc:
        raise DataError(f"{path}: {name} is not a plain view: {exc}") from exc


def read_nsrl(
    path: Path,
    *,
    on_rows: Callable[[int], None] | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> Iterator[Signal]:
    """Every SHA-256, SHA-1 and MD5 of the release's distinct hashes (lower-cased).

    DataError (naming the file) when it is no RDSv3 file, its schema is not plain, or SQLite
    works longer than `deadline_s` without handing over the next batch of rows."""
    batch_deadline = time.monotonic() + deadline_s

    def past_deadline() -> int:
        return 1 if time.monotonic() > batch_deadline else 0

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise DataError(f"{path} is not an NSRL RDSv3 SQLite database ({exc})") from exc
    source = "the schema"
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _MAX_VALUE_BYTES)
        conn.set_progress_handler(past_deadline, _PROGRESS_EVERY)
        try:
            names = {str(r[0]).upper() for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path} is not an NSRL RDSv3 SQLite database ({exc})") from exc
        if "DISTINCT_HASH" in names:
            source = "DISTINCT_HASH"
        elif "FILE" in names:
            source = "FILE"
        else:
            raise DataError(f"{path} has neither a DISTINCT_HASH view nor a FILE table (not RDSv3)")
        _check_source(conn, path, source)
        batch_deadline = time.monotonic() + deadline_s
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
            batch_deadline = time.monotonic() + deadline_s
    except sqlite3.OperationalError as exc:
        if past_deadline():
            raise DataError(
                f"{path}: reading {source} passed the deadline: SQLite worked over "
                f"{deadline_s:g} s without handing over rows"
            ) from exc
        raise DataError(f"{path}: cannot read {source} ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: cannot read {source} ({exc})") from exc
    finally:
        conn.close()
