"""A peer's changes applied in bulk (a bundle's upserts and removals): the peer speaks only
for itself. Entries it owns (extra[ORIGIN_KEY] is its bank id) it may add, change and remove;
on any other entry it can only record or withdraw its claim (provenance)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hashwarden._sql import Database
from hashwarden._time import utc_now
from hashwarden.bank._audit import MOD, SqlAudit
from hashwarden.bank._provenance import claim_beside_owner, note_claim, withdraw_claim
from hashwarden.bank._rows import check_entry, get_entry, insert_entry, owners, write_entry
from hashwarden.bank.base import ORIGIN_KEY, ChangeResult, Entry, NewEntry, entry_digest
from hashwarden.signals.base import Signal

__all__ = ["SqlChanges"]


class SqlChanges:
    """Bulk changes from peers (implements `ChangeStore`)."""

    def __init__(self, db: Database, audit: SqlAudit) -> None:
        self._db = db
        self._audit = audit

    def apply(
        self,
        upserts: Iterable[NewEntry],
        removals: Iterable[list[Signal]],
        *,
        origin: str,
        claimant: str,
        list_name: str | None = None,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        before: Callable[[Database], None] | None = None,
    ) -> ChangeResult:
        """Apply a peer's delta in one transaction; the peer (`origin`) speaks only for itself.

        Entries it owns (extra[ORIGIN_KEY] == origin) it may add, change and remove. On an
        entry this bank or another peer owns, an upsert only records `claimant`'s category in
        `provenance` (shown by `conflicts`), leaving the entry and its signals as they are, and
        a removal only withdraws that claim; signals of such an upsert that no entry holds are
        not stored. `before` runs first inside the transaction (checks that may refuse it all).
        """
        result = ChangeResult()
        plus = minus = 0
        removed_signals: list[list[list[str]]] = []
        not_stored = 0
        db = self._db
        with db.transaction():
            if before is not None:
                before(db)
            version = self._audit.next_seq()
            now = utc_now()
            for signals in removals:
                for entry_id in sorted(set(owners(db, signals).values())):
                    old = get_entry(db, entry_id)
                    if old.extra.get(ORIGIN_KEY) != origin:
                        if withdraw_claim(db, entry_id, claimant):
                            result.withdrawn.append(entry_id)
                        continue
                    with self._audit.tracked_dependents(entry_id):
                        db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                    minus = (minus + int(entry_digest(entry_id, old, old.added), 16)) % MOD
                    removed_signals.append(sorted([s.kind, s.value] for s in old.signals))
                    result.removed.append(entry_id)
            for upsert in upserts:
                entry = NewEntry(
                    **{
                        **upsert.__dict__,
                        "signals": sorted(set(upsert.signals)),  # each once, as stored
                        "extra": {**upsert.extra, ORIGIN_KEY: origin},
                    }
                )
                check_entry(entry)
                held_by = owners(db, entry.signals)
                held = {eid: get_entry(db, eid) for eid in set(held_by.values())}
                own = sorted(eid for eid, e in held.items() if e.extra.get(ORIGIN_KEY) == origin)
                free = sorted(set(entry.signals) - set(held_by))
                for eid in sorted(set(held) - set(own)):
                    claim_beside_owner(db, held[eid], entry.category, claimant, list_name, now)
                    result.claimed.append(eid)
                if not held:
                    entry_id, digest = insert_entry(db, entry, version, now)
                    note_claim(db, entry_id, claimant, entry.category, list_name, now)
                    plus = (plus + digest) % MOD
                    result.added.append(entry_id)
                elif own:
                    changed = self._update_own(held[own[0]], entry, free, version)
                    note_claim(db, own[0], claimant, entry.category, list_name, now)
                    if changed is not None:
                        plus = (plus + changed[0]) % MOD
                        minus = (minus + changed[1]) % MOD
                        result.updated.append(own[0])
                else:
                    not_stored += len(free)  # not ours to attach to someone else's entry
            self._audit.record(
                actor,
                action,
                {
                    **(detail or {}),
                    "added": len(result.added),
                    "updated": len(result.updated),
                    "removed": len(result.removed),
                    "claimed": len(result.claimed),
                    "withdrawn": len(result.withdrawn),
                    "signals_not_stored": not_stored,
                    "removed_signals": removed_signals,
                    "plus": f"{plus:064x}",
                    "minus": f"{minus:064x}",
                },
            )
        return result

    def _update_own(
        self, old: Entry, entry: NewEntry, free: list[Signal], version: int
    ) -> tuple[int, int] | None:
        """Give a peer's own entry the fields of its upsert and the signals no entry holds;
        (new, old) digests if anything changed."""
        merged = Entry(
            signals=sorted(set(old.signals) | set(free)),
            category=entry.category,
            series=entry.series,
            victim_identified=entry.victim_identified,
            source=entry.source,
            first_seen=entry.first_seen,
            note=entry.note,
            extra=entry.extra,
            id=old.id,
            added=old.added,
        )
        old_digest = entry_digest(old.id, old, old.added)
        new_digest = entry_digest(old.id, merged, old.added)
        if new_digest == old_digest:
            return None
        write_entry(self._db, merged, version, new_digest, free)
        return int(new_digest, 16), int(old_digest, 16)
