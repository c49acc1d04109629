"""Statistics events: a time, a channel, an outcome and what matched, counted (see
reports/statistics.py for what may be recorded: nothing that points at a person)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hashwarden._sql import Database
from hashwarden.bank._audit import SqlAudit

__all__ = ["EVENT_COLUMNS", "SqlEvents"]

EVENT_COLUMNS = (
    "at",
    "channel",
    "outcome",
    "category",
    "series",
    "victim_identified",
    "region",
    "count",
)


class SqlEvents:
    """The statistics events of one bank (implements `EventStore`)."""

    def __init__(self, db: Database, audit: SqlAudit) -> None:
        self._db = db
        self._audit = audit

    def add(self, rows: Sequence[tuple[Any, ...]], *, actor: str = "cli") -> int:
        """Store events (tuples in `EVENT_COLUMNS` order) in one audited transaction."""
        with self._db.transaction() as db:
            db.executemany(
                f"INSERT INTO events({', '.join(EVENT_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?)", rows
            )
            self._audit.record(actor, "events.record", {"count": len(rows)})
        return len(rows)

    def between(self, start: str, end: str) -> list[tuple[Any, ...]]:
        """Events with `start <= at < end` (ISO text), oldest first, as `EVENT_COLUMNS`."""
        return self._db.query(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE at >= ? AND at < ? ORDER BY at",
            (start, end),
        )
