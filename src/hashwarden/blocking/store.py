"""The curator's block list: one SQLite file, the only place expressions are kept in clear.

Each entry is a canonical expression (see `canonical`) of one of three kinds, with where it
came from (`source`, e.g. "IWF"), a reason code, the date it was added and an optional expiry.
Every change is numbered in a `changes` log, from which the hashed delta after any version
(digests only) and the RPZ delta (names in clear, for operators who take RPZ) are built.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType

from hashwarden._sql import Database
from hashwarden._time import utc_now, utc_today
from hashwarden.blocking.canonical import (
    digest,
    domain_expression,
    lookup_expressions,
    prefix_expression,
    url_expression,
)
from hashwarden.errors import ConflictError, DataError, NotFoundError, UsageError

__all__ = ["KINDS", "BlockEntry", "BlockList", "Change", "expression_for", "parse_expiry"]

KINDS = ("domain", "prefix", "url")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('domain', 'prefix', 'url')),
    expression TEXT NOT NULL UNIQUE,
    digest BLOB NOT NULL UNIQUE,
    source TEXT,
    reason TEXT,
    added TEXT NOT NULL,
    expires TEXT
);
CREATE TABLE IF NOT EXISTS changes (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
    digest BLOB NOT NULL,
    expression TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT,
    expires TEXT,
    at TEXT NOT NULL
);
"""
_MAGIC = "hashwarden-blocklist-store"


@dataclass(frozen=True, slots=True)
class BlockEntry:
    kind: str
    expression: str
    digest: bytes
    source: str | None
    reason: str | None
    added: str
    expires: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One numbered change, as the hashed distribution carries it."""

    version: int
    op: str
    digest: bytes
    expression: str  # clear: for RPZ deltas only, never in the hashed form
    kind: str
    reason: str | None
    expires: str | None


def parse_expiry(text: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) that lies ahead, or None."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--expires {text!r} is not a date (YYYY-MM-DD)") from exc
    if day.isoformat() <= utc_today():
        raise UsageError(f"--expires {text} is not in the future")
    return day.isoformat()


def expression_for(kind: str, value: str) -> str:
    if kind == "domain":
        return domain_expression(value)
    if kind == "prefix":
        return prefix_expression(value)
    if kind == "url":
        return url_expression(value)
    raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


class BlockList:
    """The curator's list file. Open with `create` or `open`; use as a context manager."""

    def __init__(self, path: Path, db: Database) -> None:
        self.path = path
        self._db = db

    @classmethod
    def create(cls, path: Path) -> BlockList:
        if path.exists():
            raise ConflictError(f"{path} exists already")
        db = Database.sqlite(path, create=True, wal=False)
        db.script(_SCHEMA)
        db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("format", _MAGIC), ("list_id", str(uuid.uuid4())), ("created", utc_now())],
        )
        return cls(path, db)

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False, create: bool = False) -> BlockList:
        if not path.exists():
            if create and not readonly:
                return cls.create(path)
            raise NotFoundError(f"no block list at {path}")
        try:
            db = Database.sqlite(path, readonly=readonly, wal=False)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path} is not a hashwarden block list ({exc})") from exc
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise DataError(f"{path} is not a hashwarden block list ({exc})") from exc
        if row is None or row[0] != _MAGIC:
            db.close()
            raise DataError(f"{path} is not a hashwarden block list")
        return cls(path, db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> BlockList:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def list_id(self) -> str:
        return str(self._db.execute("SELECT value FROM meta WHERE key='list_id'").fetchone()[0])

    @property
    def version(self) -> int:
        row = self._db.execute("SELECT max(version) FROM changes").fetchone()
        return int(row[0] or 0)

    def add(
        self,
        kind: str,
        value: str,
        *,
        source: str | None = None,
        reason: str | None = None,
        expires: str | None = None,
    ) -> BlockEntry:
        """Canonicalise and add one entry; ConflictError when the expression is listed."""
        return self.add_many([(kind, value)], source=source, reason=reason, expires=expires)[0]

    def add_many(
        self,
        items: list[tuple[str, str]],
        *,
        source: str | None = None,
        reason: str | None = None,
        expires: str | None = None,
    ) -> list[BlockEntry]:
        """Add many (kind, value) entries in one all-or-nothing transaction."""
        added, at = utc_today(), utc_now()
        entries = []
        for kind, value in items:
            expression = expression_for(kind, value)
            entries.append(
                BlockEntry(kind, expression, digest(expression), source, reason, added, expires)
            )
        with self._db.transaction() as db:
            self._expire(db)
            for e in entries:
                try:
                    db.execute(
                        "INSERT INTO entries(kind, expression, digest, source, reason, added,"
                        " expires) VALUES (?,?,?,?,?,?,?)",
                        (e.kind, e.expression, e.digest, e.source, e.reason, e.added, e.expires),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ConflictError(f"{e.expression} is listed already") from exc
                db.execute(
                    "INSERT INTO changes(op, digest, expression, kind, reason, expires, at)"
                    " VALUES ('add',?,?,?,?,?,?)",
                    (e.digest, e.expression, e.kind, e.reason, e.expires, at),
                )
        return entries

    def remove(self, kind: str, value: str) -> BlockEntry:
        """Remove the entry for (kind, value); NotFoundError when it is not listed."""
        expression = expression_for(kind, value)
        with self._db.transaction() as db:
            self._expire(db)
            entry = self._get(expression)
            if entry is None:
                raise NotFoundError(f"{expression} is not listed")
            self._delete(db, entry, utc_now())
        return entry

    def expire(self) -> int:
        """Remove entries whose expiry date has come; returns how many."""
        with self._db.transaction() as db:
            return self._expire(db)

    def _expire(self, db: Database) -> int:
        rows = db.execute(
            "SELECT kind, expression, digest, source, reason, added, expires FROM entries"
            " WHERE expires IS NOT NULL AND expires <= ?",
            (utc_today(),),
        ).fetchall()
        at = utc_now()
        for row in rows:
            self._delete(db, BlockEntry(*row), at)
        return len(rows)

    @staticmethod
    def _delete(db: Database, entry: BlockEntry, at: str) -> None:
        db.execute("DELETE FROM entries WHERE digest = ?", (entry.digest,))
        db.execute(
            "INSERT INTO changes(op, digest, expression, kind, reason, expires, at)"
            " VALUES ('remove',?,?,?,?,?,?)",
            (entry.digest, entry.expression, entry.kind, entry.reason, entry.expires, at),
        )

    def _get(self, expression: str) -> BlockEntry | None:
        row = self._db.execute(
            "SELECT kind, expression, digest, source, reason, added, expires FROM entries"
            " WHERE expression = ?",
            (expression,),
        ).fetchone()
        return None if row is None else BlockEntry(*row)

    def entries(self, kind: str | None = None) -> Iterator[BlockEntry]:
        sql = "SELECT kind, expression, digest, source, reason, added, expires FROM entries"
        params: tuple[str, ...] = ()
        if kind is not None:
            sql, params = sql + " WHERE kind = ?", (kind,)
        for row in self._db.execute(sql + " ORDER BY expression", params):
            yield BlockEntry(*row)

    def changes(self, since: int = 0) -> list[Change]:
        """The changes after version `since`, oldest first."""
        if since < 0 or since > self.version:
            raise UsageError(
                f"version {since} is outside this list's history (0 to {self.version})"
            )
        rows = self._db.execute(
            "SELECT version, op, digest, expression, kind, reason, expires FROM changes"
            " WHERE version > ?"
            " ORDER BY version",
            (since,),
        ).fetchall()
        return [Change(*row) for row in rows]

    def check(self, url: str) -> BlockEntry | None:
        """The most specific live entry covering `url`, or None."""
        today = utc_today()
        for expression in lookup_expressions(url):
            entry = self._get(expression)
            if entry is not None and (entry.expires is None or entry.expires > today):
                return entry
        return None

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, count(*) FROM entries GROUP BY kind").fetchall()
        found = {str(k): int(n) for k, n in rows}
        return {kind: found.get(kind, 0) for kind in KINDS}
