"""Counts of blocked attempts: per list entry (its SHA-256) per day, and nothing else.

No client address, user agent, queried name or URL is ever passed in, so none can be written.
Counts are summed in memory and written in batches, so a busy resolver does not write SQLite
once per query: by a background thread every `flush_every` seconds when given (a crash then
loses at most that interval's counts), on `flush()` and on `close()`. A write that fails (the
file locked by `record-stats` for longer than SQLite's wait, a full disk) keeps the counts for
the next one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from hashwarden._sql import Database
from hashwarden._time import utc_now, utc_today
from hashwarden.errors import DataError, UsageError

__all__ = ["BlockCounts", "MonthSummary", "month_summary"]

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocked (
    day TEXT NOT NULL,
    entry TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, entry)
);
CREATE TABLE IF NOT EXISTS exported (day TEXT PRIMARY KEY, at TEXT NOT NULL);
"""


class BlockCounts:
    """A counts file (SQLite). `record(digest)` is cheap and thread-safe: it never writes."""

    def __init__(self, path: Path, *, flush_every: float | None = None) -> None:
        if flush_every is not None and not flush_every > 0:
            raise UsageError(
                f"--flush-every must be a positive number of seconds, not {flush_every}"
            )
        self.path = path
        self.flush_every = flush_every
        try:
            self._db = Database.sqlite(path, create=True, wal=False)
            self._db.script(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path} is not a counts file ({exc})") from exc
        self._pending: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._writer: threading.Thread | None = None
        if flush_every is not None:
            self._writer = threading.Thread(
                target=self._write_every, args=(flush_every,), name="counts-writer", daemon=True
            )
            self._writer.start()

    def record(self, entry_digest: bytes) -> None:
        day = utc_today()
        with self._lock:
            self._pending[(day, entry_digest.hex())] += 1

    def _write_every(self, seconds: float) -> None:
        while not self._closed.wait(seconds):
            try:
                self.flush()
            except DataError as exc:  # kept in memory; the next round tries again
                _log.warning("%s", exc)

    def flush(self) -> None:
        """Write the pending counts now. DataError when they cannot be (they are kept)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            if not pending:
                return
            try:
                with self._db.transaction() as db:
                    db.executemany(
                        "INSERT INTO blocked(day, entry, n) VALUES (?, ?, ?)"
                        " ON CONFLICT(day, entry) DO UPDATE SET n = n + excluded.n",
                        [(day, entry, n) for (day, entry), n in pending.items()],
                    )
            except sqlite3.Error as exc:
                self._pending.update(pending)
                raise DataError(
                    f"could not write {sum(pending.values())} blocked-attempt counts to "
                    f"{self.path} ({exc}); kept in memory for the next write"
                ) from exc

    def close(self) -> None:
        """Stop the interval writer, write what is pending and close the file."""
        self._closed.set()
        if self._writer is not None:
            self._writer.join()
        self.flush()
        self._db.close()

    def __enter__(self) -> BlockCounts:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def rows(self, month: str | None = None) -> list[tuple[str, str, int]]:
        """(day, entry digest hex, count), for one month (YYYY-MM) or all."""
        self.flush()
        sql, params = "SELECT day, entry, n FROM blocked", ()
        if month is not None:
            sql, params = sql + " WHERE substr(day, 1, 7) = ?", (month,)  # type: ignore[assignment]
        return [
            (str(d), str(e), int(n))
            for d, e, n in self._db.execute(sql + " ORDER BY day, entry", params)
        ]

    def unexported_days(self) -> list[tuple[str, int]]:
        """(day, blocked attempts) of finished days (before today, UTC) not yet exported to
        the statistics, oldest first."""
        self.flush()
        rows = self._db.execute(
            "SELECT day, sum(n) FROM blocked WHERE day < ?"
            " AND day NOT IN (SELECT day FROM exported) GROUP BY day ORDER BY day",
            (utc_today(),),
        ).fetchall()
        return [(str(d), int(n)) for d, n in rows]

    def mark_exported(self, days: list[str]) -> None:
        at = utc_now()
        with self._lock:
            self._db.executemany(
                "INSERT INTO exported(day, at) VALUES (?, ?) ON CONFLICT(day) DO NOTHING",
                [(day, at) for day in days],
            )


@dataclass(frozen=True, slots=True)
class MonthSummary:
    month: str
    total: int
    by_day: dict[str, int]
    by_entry: dict[str, int]  # entry digest hex -> count, most blocked first


def month_summary(counts: BlockCounts, month: str | None = None) -> MonthSummary:
    """The blocked attempts of one month (default: the current one)."""
    month = month or utc_today()[:7]
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError as exc:
        raise UsageError(f"--month {month!r} is not YYYY-MM") from exc
    by_day: Counter[str] = Counter()
    by_entry: Counter[str] = Counter()
    for day, entry, n in counts.rows(month):
        by_day[day] += n
        by_entry[entry] += n
    return MonthSummary(
        month, sum(by_day.values()), dict(sorted(by_day.items())), dict(by_entry.most_common())
    )
