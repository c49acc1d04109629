"""Entries as rows: the reads and writes of the `entries` and `signals` tables that several
stores share (adding and merging, peer changes, votes, verify). Each runs in the caller's
transaction and changes no audit state; the caller records what it did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from hashwarden._sql import Database
from hashwarden.bank.base import Entry, NewEntry, entry_digest
from hashwarden.bank.categories import CATEGORIES
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.signals.base import Signal

__all__ = [
    "BATCH",
    "ENTRY_COLUMNS",
    "check_entry",
    "chunks",
    "get_entry",
    "insert_entry",
    "owners",
    "read_entries",
    "signal_set",
    "write_entry",
]

BATCH = 900  # stays under SQLite's bound-parameter limit
T = TypeVar("T")
ENTRY_COLUMNS = (
    "id, category, series, victim_identified, source, first_seen, added, note, extra, version"
)


def chunks(items: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_entry(entry: NewEntry) -> None:
    if not entry.signals:
        raise UsageError("an entry needs at least one signal")
    if entry.category not in CATEGORIES:
        raise UsageError(f"unknown category {entry.category!r}")


def _row_to_entry(row: tuple[Any, ...], signals: list[Signal]) -> Entry:
    (eid, category, series, victim, source, first_seen, added, note, extra, version) = row
    return Entry(
        id=int(eid),
        signals=signals,
        category=category,
        series=series,
        victim_identified=bool(victim),
        source=source,
        first_seen=first_seen,
        added=added,
        note=note,
        extra=json.loads(extra),
        version=int(version),
    )


def get_entry(db: Database, entry_id: int) -> Entry:
    row = db.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?", (entry_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no entry {entry_id} in {db.location}")
    signals = [
        Signal(k, v)
        for k, v in db.execute(
            "SELECT kind, value FROM signals WHERE entry_id = ? ORDER BY kind", (entry_id,)
        )
    ]
    return _row_to_entry(row, signals)


def read_entries(db: Database, ids: Iterable[int]) -> dict[int, Entry]:
    """The entries with these ids (those that exist), by id."""
    wanted = sorted(set(ids))
    found: dict[int, Entry] = {}
    for chunk in chunks([str(i) for i in wanted]):
        marks = ",".join("?" * len(chunk))
        sigs: dict[int, list[Signal]] = {}
        for eid, kind, value in db.execute(
            f"SELECT entry_id, kind, value FROM signals WHERE entry_id IN ({marks})", chunk
        ):
            sigs.setdefault(int(eid), []).append(Signal(kind, value))
        for row in db.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id IN ({marks})", chunk):
            found[int(row[0])] = _row_to_entry(row, sorted(sigs.get(int(row[0]), [])))
    return found


def signal_set(db: Database, entry_id: int) -> set[Signal]:
    return {
        Signal(k, v)
        for k, v in db.execute("SELECT kind, value FROM signals WHERE entry_id = ?", (entry_id,))
    }


def owners(db: Database, signals: Iterable[Signal]) -> dict[Signal, int]:
    """Which entry holds each of these signals (those no entry holds are left out)."""
    found: dict[Signal, int] = {}
    for s in set(signals):
        row = db.execute(
            "SELECT entry_id FROM signals WHERE kind = ? AND value = ?", (s.kind, s.value)
        ).fetchone()
        if row:
            found[s] = int(row[0])
    return found


def insert_entry(db: Database, entry: NewEntry, version: int, now: str) -> tuple[int, int]:
    """Insert one entry: (id, digest as an integer). A signal listed twice is stored, and
    digested, once."""
    entry = replace(entry, signals=sorted(set(entry.signals)))
    cursor = db.execute(
        "INSERT INTO entries(category, series, victim_identified, source, first_seen,"
        " added, note, extra, version, digest) VALUES (?,?,?,?,?,?,?,?,?,'') RETURNING id",
        (
            entry.category,
            entry.series,
            int(entry.victim_identified),
            entry.source,
            entry.first_seen,
            now,
            entry.note,
            json.dumps(entry.extra, sort_keys=True),
            version,
        ),
    )
    entry_id = int(cursor.fetchone()[0])
    digest = entry_digest(entry_id, entry, now)
    db.execute("UPDATE entries SET digest = ? WHERE id = ?", (digest, entry_id))
    db.executemany(
        "INSERT INTO signals(kind, value, entry_id) VALUES (?,?,?)",
        [(s.kind, s.value, entry_id) for s in set(entry.signals)],
    )
    return entry_id, int(digest, 16)


def write_entry(
    db: Database, entry: Entry, version: int, digest: str, new_signals: Iterable[Signal] = ()
) -> None:
    """Store an entry's fields (every one but its id, signals and `added`), its new version
    and digest, and add `new_signals` to it."""
    db.executemany(
        "INSERT INTO signals(kind, value, entry_id) VALUES (?,?,?)",
        [(s.kind, s.value, entry.id) for s in new_signals],
    )
    db.execute(
        "UPDATE entries SET category=?, series=?, victim_identified=?, source=?,"
        " first_seen=?, note=?, extra=?, version=?, digest=? WHERE id=?",
        (
            entry.category,
            entry.series,
            int(entry.victim_identified),
            entry.source,
            entry.first_seen,
            entry.note,
            json.dumps(entry.extra, sort_keys=True),
            version,
            digest,
            entry.id,
        ),
    )
