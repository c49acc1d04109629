"""Entries and their signals: adding (a record that overlaps an entry is merged into it),
changing, removing, and the look-ups and streams the indexes and exports read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hashwarden._sql import Database
from hashwarden._time import utc_now
from hashwarden.bank._audit import GENESIS, MOD, SqlAudit
from hashwarden.bank._provenance import consensus, note_claim, other_claims
from hashwarden.bank._rows import (
    ENTRY_COLUMNS,
    check_entry,
    chunks,
    get_entry,
    insert_entry,
    read_entries,
    signal_set,
    write_entry,
)
from hashwarden.bank.base import AddResult, Entry, NewEntry, entry_digest
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.signals.base import Signal

__all__ = ["SqlEntries"]

_CHANGEABLE = {"category", "series", "victim_identified", "source", "first_seen", "note", "extra"}


@dataclass
class _Merge:
    """What folding one record into an entry did: its category outcome (updated, kept,
    conflicting), whether the entry gained signals or fields, and the digests added/removed."""

    outcome: str
    gained: bool
    plus: int = 0
    minus: int = 0


class SqlEntries:
    """The entries of one bank (implements `EntryStore`)."""

    def __init__(self, db: Database, audit: SqlAudit) -> None:
        self._db = db
        self._audit = audit

    # -- adding -----------------------------------------------------------------------------
    def add(self, entry: NewEntry, *, actor: str = "cli") -> int:
        """Add one entry and return its id. When some of its signals are banked already, its
        new signals are merged into that entry and its id returned; a record that brings no
        new signal (a pure duplicate) or that bridges two entries is a ConflictError."""
        result = self.add_many([entry], actor=actor, action="entry.add", on_duplicate="error")
        return (result.added or result.matched)[0]

    def add_many(
        self,
        entries: Iterable[NewEntry],
        *,
        actor: str = "cli",
        action: str = "entries.add",
        on_duplicate: str = "skip",
        detail: dict[str, Any] | None = None,
    ) -> AddResult:
        """Add entries in one transaction; nothing a record brings is dropped.

        A record sharing a signal with an entry already banked is merged into that entry (see
        `_merge`): its new signals join it, fields it lacks are filled in, its category is
        weighed as a claim. A record whose signals belong to two different entries refuses the
        whole addition with ConflictError naming both, as does, with `on_duplicate="error"`, a
        record that brings no signal the entry lacks (a pure duplicate)."""
        if on_duplicate not in ("skip", "error"):
            raise UsageError(f"on_duplicate is skip or error, not {on_duplicate!r}")
        result = AddResult()
        plus = minus = 0
        list_name = str((detail or {}).get("file") or "") or None
        with self._db.transaction():
            version = self._audit.next_seq()
            now = utc_now()
            for entry in entries:
                check_entry(entry)
                owner = self._single_owner(entry.signals)
                if owner is None:
                    entry_id, digest = insert_entry(self._db, entry, version, now)
                    if entry.source:
                        note_claim(self._db, entry_id, entry.source, entry.category, list_name, now)
                    plus = (plus + digest) % MOD
                    result.added.append(entry_id)
                    continue
                if on_duplicate == "error" and not set(entry.signals) - signal_set(self._db, owner):
                    kind, value = entry.signals[0].kind, entry.signals[0].value
                    raise ConflictError(f"{kind} {value} is already in the bank as entry {owner}")
                merge = self._merge(owner, entry, version, now, list_name)
                plus = (plus + merge.plus) % MOD
                minus = (minus + merge.minus) % MOD
                result.duplicates += 1
                result.matched.append(owner)
                if merge.gained and owner not in result.merged:
                    result.merged.append(owner)
                if merge.outcome == "updated":
                    result.category_updated += 1
                elif merge.outcome == "conflicting":
                    result.category_conflicting += 1
                else:
                    result.category_kept += 1
            event: dict[str, Any] = {
                "count": len(result.added),
                "duplicates": result.duplicates,
                "merged": result.merged[:20],
                "merged_count": len(result.merged),
                "category_updated": result.category_updated,
                "category_kept": result.category_kept,
                "category_conflicting": result.category_conflicting,
                "plus": f"{plus:064x}",
                "minus": f"{minus:064x}",
                **(detail or {}),
            }
            if len(result.added) <= 20:
                event["ids"] = result.added
            elif result.added:
                event["id_range"] = [result.added[0], result.added[-1]]
            self._audit.record(actor, action, event)
        return result

    def _single_owner(self, signals: list[Signal]) -> int | None:
        """The one entry already holding any of these signals (None if none does);
        ConflictError naming both when they belong to two entries."""
        found: dict[int, Signal] = {}
        for s in sorted(set(signals)):
            row = self._db.execute(
                "SELECT entry_id FROM signals WHERE kind = ? AND value = ?", (s.kind, s.value)
            ).fetchone()
            if row is not None:
                found.setdefault(int(row[0]), s)
        if len(found) > 1:
            (a, sa), (b, sb) = sorted(found.items())[:2]
            raise ConflictError(
                f"one record holds {sa.kind} {sa.value} of entry {a} and {sb.kind} {sb.value}"
                f" of entry {b}: a record cannot join two entries, so nothing was added"
            )
        return next(iter(found), None)

    def _merge(
        self, entry_id: int, record: NewEntry, version: int, now: str, list_name: str | None
    ) -> _Merge:
        """Fold a record into the entry that holds some of its signals, inside the current
        transaction: new signals join it; series, first seen, note and extra keys it lacks are
        filled in (what it has is kept); a victim identified stays identified. The category:
        a record with a source is that organisation's claim, and the entry takes the consensus
        when the claim changed; a record without a source only fills in an uncategorised entry.
        Either way an `uncategorised` record never lowers a category."""
        old = get_entry(self._db, entry_id)
        category = old.category
        outcome = "kept"
        if record.source:
            changed = note_claim(self._db, entry_id, record.source, record.category, list_name, now)
            if changed:
                category = consensus(self._db, entry_id) or old.category
            if record.category != "uncategorised":
                others = other_claims(self._db, entry_id, record.source)
                if category != record.category or others - {record.category}:
                    outcome = "conflicting"
                elif category != old.category:
                    outcome = "updated"
        elif record.category != "uncategorised":
            if old.category == "uncategorised":
                category, outcome = record.category, "updated"
            elif old.category != record.category:
                outcome = "conflicting"
        new_signals = sorted(set(record.signals) - set(old.signals))
        merged = Entry(
            **{
                **old.__dict__,
                "signals": sorted(set(old.signals) | set(record.signals)),
                "category": category,
                "series": old.series if old.series is not None else record.series,
                "victim_identified": old.victim_identified or record.victim_identified,
                "first_seen": old.first_seen if old.first_seen is not None else record.first_seen,
                "note": old.note if old.note is not None else record.note,
                "extra": {**record.extra, **old.extra},
            }
        )
        old_digest = entry_digest(entry_id, old, old.added)
        new_digest = entry_digest(entry_id, merged, old.added)
        if new_digest == old_digest:
            return _Merge(outcome, gained=False)
        write_entry(self._db, merged, version, new_digest, new_signals)
        unchanged_but_category = Entry(**{**merged.__dict__, "category": old.category})
        gained = entry_digest(entry_id, unchanged_but_category, old.added) != old_digest
        return _Merge(outcome, gained, int(new_digest, 16), int(old_digest, 16))

    # -- changing and removing --------------------------------------------------------------
    def update(self, entry_id: int, *, actor: str = "cli", **changes: Any) -> Entry:
        """Change an entry's fields (not its signals); recorded with old and new digests."""
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise UsageError(f"cannot change {', '.join(sorted(unknown))} of an entry")
        with self._db.transaction():
            old = get_entry(self._db, entry_id)
            new = Entry(**{**old.__dict__, **changes})
            check_entry(new)
            version = self._audit.next_seq()
            digest = entry_digest(entry_id, new, old.added)
            write_entry(self._db, new, version, digest)
            old_digest = entry_digest(entry_id, old, old.added)
            self._audit.record(
                actor,
                "entry.update",
                {
                    "id": entry_id,
                    "changes": sorted(changes),
                    "plus": digest,
                    "minus": old_digest,
                },
            )
            new.version = version
            return new

    def remove(self, entry_id: int, *, actor: str = "cli", reason: str | None = None) -> Entry:
        """Remove an entry and its signals; the audit event keeps its signals as a tombstone
        (which the next bundle carries as a removal) and the reason given."""
        with self._db.transaction():
            return self._remove(get_entry(self._db, entry_id), actor, reason)

    def remove_by_signal(
        self, signal: Signal, *, actor: str = "cli", reason: str | None = None
    ) -> Entry:
        """Remove the entry holding this signal; NotFoundError if no entry holds it."""
        with self._db.transaction():
            row = self._db.execute(
                "SELECT entry_id FROM signals WHERE kind = ? AND value = ?",
                (signal.kind, signal.value),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"{signal.kind} {signal.value} is not in the bank")
            return self._remove(get_entry(self._db, int(row[0])), actor, reason)

    def _remove(self, old: Entry, actor: str, reason: str | None) -> Entry:
        with self._audit.tracked_dependents(old.id):
            self._db.execute("DELETE FROM entries WHERE id = ?", (old.id,))
        detail: dict[str, Any] = {
            "id": old.id,
            "signals": sorted([s.kind, s.value] for s in old.signals),
            "plus": GENESIS,
            "minus": entry_digest(old.id, old, old.added),
        }
        if reason is not None:
            detail["reason"] = reason
        self._audit.record(actor, "entry.remove", detail)
        return old

    # -- reading ----------------------------------------------------------------------------
    def get(self, entry_id: int) -> Entry:
        """The entry; NotFoundError when there is none of that id."""
        return get_entry(self._db, entry_id)

    def by_id(self, ids: Iterable[int]) -> dict[int, Entry]:
        """The entries with these ids (those that exist), by id."""
        return read_entries(self._db, ids)

    def all(self, *, since_version: int = 0) -> Iterator[Entry]:
        """Every entry (changed after `since_version`), in id order, streamed."""
        last = 0
        while True:
            rows = self._db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id > ? AND version > ?"
                " ORDER BY id LIMIT 1000",
                (last, since_version),
            ).fetchall()
            if not rows:
                return
            by_id = read_entries(self._db, (int(r[0]) for r in rows))
            for r in rows:
                yield by_id[int(r[0])]
            last = int(rows[-1][0])

    def find(self, term: str, *, after: int = 0, limit: int = 100) -> list[Entry]:
        """A page of the entries whose category, series or source is `term`, or on which an
        organisation of that name has a claim, in id order after id `after` (a search field:
        the curator does not say which of them the term is)."""
        rows = self._db.execute(
            "SELECT id FROM entries WHERE id > ? AND (category = ? OR series = ? OR source = ?"
            " OR id IN (SELECT entry_id FROM provenance WHERE org = ?)) ORDER BY id LIMIT ?",
            (after, term, term, term, term, limit),
        ).fetchall()
        found = read_entries(self._db, (int(r[0]) for r in rows))
        return [found[int(r[0])] for r in rows]

    def signals(self, kind: str) -> Iterator[tuple[int, str]]:
        """(entry id, value) of every signal of a kind, streamed."""
        cursor = self._db.execute(
            "SELECT entry_id, value FROM signals WHERE kind = ? ORDER BY entry_id", (kind,)
        )
        while rows := cursor.fetchmany(10_000):
            for eid, value in rows:
                yield int(eid), value

    def lookup(self, kind: str, values: Iterable[str]) -> dict[str, int]:
        """Which of these values are banked, and in which entry."""
        found: dict[str, int] = {}
        for chunk in chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            for value, eid in self._db.execute(
                f"SELECT value, entry_id FROM signals WHERE kind = ? AND value IN ({marks})",
                [kind, *chunk],
            ):
                found[value] = int(eid)
        return found

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def count_by_kind(self) -> dict[str, int]:
        """Signals per kind."""
        rows = self._db.execute("SELECT kind, COUNT(*) FROM signals GROUP BY kind ORDER BY kind")
        return {str(k): int(n) for k, n in rows.fetchall()}

    def count_by_category(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT category, COUNT(*) FROM entries GROUP BY category ORDER BY category"
        )
        return {str(c): int(n) for c, n in rows.fetchall()}
