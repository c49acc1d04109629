"""The agent's state folder: one SQLite file (`agent.db`) and a status file (`status.json`).

`agent.db` holds the seen-file cache, the alert outbox (`outbox.py`) and the sweep checkpoint.
It is written with `synchronous=FULL`, so a commit is on disk (fsync'd) before the agent goes
on: a file is marked seen in the same transaction that queues its alerts, and a `kill -9` or a
power cut at any moment leaves either both or neither. A file that raised no alert is marked
seen with the next write (up to `MARK_BATCH` files together, a sweep's checkpoint, the worker
going idle): one commit a file cost a sweep of small files most of its time, and a mark lost
to a `kill -9` costs only that file examined again, never an alert.

The seen cache keys files by (device, inode) and keeps their size and modification time as
last examined and the bank version they were matched against: a file unchanged since is not
hashed again until the bank changes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashwarden.errors import DataError

__all__ = ["Seen", "StateDb", "read_status", "write_status"]

DB_NAME = "agent.db"
#: Files without alerts marked seen in one transaction, at most.
MARK_BATCH = 500
STATUS_NAME = "status.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    version TEXT NOT NULL,
    touched INTEGER NOT NULL,
    PRIMARY KEY (dev, ino)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created REAL NOT NULL,
    delivered REAL
);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox(status, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Seen:
    """A file as last examined."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> Seen:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class StateDb:
    """The state folder's database; one instance per thread (each holds its connection)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.conn = sqlite3.connect(
                folder / DB_NAME, isolation_level=None, check_same_thread=False, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{folder / DB_NAME} is not the agent's state ({exc})") from exc
        #: Seen marks not written yet, by (device, inode): (seen, bank version, sweep).
        self._marks: dict[tuple[int, int], tuple[Seen, str, int]] = {}

    def close(self) -> None:
        self.flush()
        self.conn.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing. `durable`: on disk when it ends (an alert queued); otherwise it
        survives the agent's end however abrupt (`kill -9`) and is on disk with the next
        durable one, or a checkpoint: a power cut may undo it, and only it (the write-ahead log
        keeps transactions in order), which costs a file examined again, never an alert."""
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            marks = list(self._marks.values())
            for seen, version, sweep in marks:
                self.mark_seen(self.conn, seen, version, sweep)
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        for seen, _, _ in marks:
            self._marks.pop((seen.dev, seen.ino), None)

    def flush(self) -> None:
        """Write the seen marks kept back (`mark_later`)."""
        if self._marks:
            with self.transaction(durable=False):
                pass

    # -- seen files --------------------------------------------------------------------------
    def unchanged(self, seen: Seen, version: str) -> bool:
        """Whether the file was examined as it is now against this bank version."""
        kept = self._marks.get((seen.dev, seen.ino))
        if kept is not None:
            return kept[0] == seen and kept[1] == version
        row = self.conn.execute(
            "SELECT size, mtime_ns, version FROM seen WHERE dev = ? AND ino = ?",
            (seen.dev, seen.ino),
        ).fetchone()
        return row is not None and tuple(row) == (seen.size, seen.mtime_ns, version)

    @staticmethod
    def mark_seen(conn: sqlite3.Connection, seen: Seen, version: str, sweep: int) -> None:
        conn.execute(
            "INSERT INTO seen(dev, ino, size, mtime_ns, version, touched) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (dev, ino) DO UPDATE SET size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, version = excluded.version,"
            " touched = excluded.touched",
            (seen.dev, seen.ino, seen.size, seen.mtime_ns, version, sweep),
        )

    def mark_later(self, seen: Seen, version: str, sweep: int) -> None:
        """Mark a file seen with the next write (`MARK_BATCH` files at most wait for it)."""
        self._marks[(seen.dev, seen.ino)] = (seen, version, sweep)
        if len(self._marks) >= MARK_BATCH:
            self.flush()

    def touch(self, seens: list[Seen], sweep: int) -> None:
        """Mark files found unchanged by sweep `sweep` (so `forget_before` keeps them)."""
        with self.transaction(durable=False) as conn:
            conn.executemany(
                "UPDATE seen SET touched = ? WHERE dev = ? AND ino = ?",
                [(sweep, s.dev, s.ino) for s in seens],
            )

    def forget_before(self, sweep: int) -> int:
        """Drop files no sweep since `sweep` found (deleted, or on media no longer there)."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM seen WHERE touched < ?", (sweep,)).rowcount

    def seen_count(self) -> int:
        self.flush()
        return int(self.conn.execute("SELECT COUNT(*) FROM seen").fetchone()[0])

    # -- meta --------------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


def write_status(folder: Path, status: dict[str, Any]) -> None:
    """Replace the status file at once (a reader never sees half of it)."""
    path = folder / STATUS_NAME
    staging = folder / f".{STATUS_NAME}.{os.getpid()}"
    staging.write_text(json.dumps({**status, "updated": time.time()}, indent=1))
    staging.replace(path)


def read_status(folder: Path) -> dict[str, Any] | None:
    """The status the agent last wrote in `folder`, or None when it never ran there."""
    try:
        data = json.loads((folder / STATUS_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder / STATUS_NAME} is not an agent status ({exc})") from exc
    return data if isinstance(data, dict) else None
