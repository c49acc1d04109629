"""The bank's data model: entries with their signals, known-good sets, audit events."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from hashwarden.signals.base import Signal

__all__ = [
    "GENESIS",
    "ORIGIN_KEY",
    "AddResult",
    "AuditEvent",
    "BankStats",
    "ChangeResult",
    "Entry",
    "NewEntry",
    "VerifyReport",
    "entry_digest",
    "event_hash",
]

#: In an entry's extra: the peer bank (its `bank_id`) that owns an entry received in a bundle.
#: Only that peer's bundles may change or remove the entry; the bank does not publish it again.
ORIGIN_KEY = "hashwarden:origin"


@dataclass
class NewEntry:
    """An entry to add: one or more signals of one piece of content, and what is known of it."""

    signals: list[Signal]
    category: str = "uncategorised"
    series: str | None = None
    victim_identified: bool = False
    source: str | None = None
    first_seen: str | None = None
    note: str | None = None
    #: Format-specific fields kept for round trips (e.g. a VICS MediaID).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Entry(NewEntry):
    id: int = 0
    added: str = ""
    #: The audit sequence number of the entry's last change.
    version: int = 0

    def signal(self, kind: str) -> str | None:
        for s in self.signals:
            if s.kind == kind:
                return s.value
        return None


def entry_digest(entry_id: int, e: NewEntry, added: str) -> str:
    """SHA-256 over an entry's canonical form: what the audit log vouches for."""
    body = [
        entry_id,
        sorted([s.kind, s.value] for s in e.signals),
        e.category,
        e.series,
        bool(e.victim_identified),
        e.source,
        e.first_seen,
        added,
        e.note,
        e.extra,
    ]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class AddResult:
    """What an addition did: new entries, and what records that overlap an entry did to it."""

    #: Ids of new entries, in record order.
    added: list[int] = field(default_factory=list)
    #: Records that overlapped an entry already banked (merged into it, not added).
    duplicates: int = 0
    #: For each such record, the id of the entry it fell into (record order).
    matched: list[int] = field(default_factory=list)
    #: Entries that gained signals or filled-in fields from an overlapping record.
    merged: list[int] = field(default_factory=list)
    #: Of the overlapping records: those that changed the entry's category,
    category_updated: int = 0
    #: those that left it as it was and agree with it (or named no category),
    category_kept: int = 0
    #: and those whose category disagrees with the entry's, or with another organisation's
    #: claim on it (the entry keeps the consensus; `conflicts()` lists organisations' views).
    category_conflicting: int = 0


@dataclass
class ChangeResult:
    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    #: Entries held by this bank or another peer on which the peer's claim was recorded.
    claimed: list[int] = field(default_factory=list)
    #: Entries from which the peer's claim was withdrawn (its removal of what it did not own).
    withdrawn: list[int] = field(default_factory=list)


@dataclass
class BankStats:
    entries: int
    signals_by_kind: dict[str, int]
    entries_by_category: dict[str, int]
    known_good_sets: dict[str, int]
    audit_events: int
    bank_id: str
    fingerprint: str


#: The `prev` of a hash chain's first event.
GENESIS = "0" * 64


def event_hash(prev: str, seq: int, at: str, actor: str, action: str, detail: str) -> str:
    """The SHA-256 that chains an event to the one before it: the bank's audit log and the
    case store's log are the same kind of chain."""
    text = json.dumps([seq, at, actor, action, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


@dataclass
class AuditEvent:
    seq: int
    at: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev: str
    hash: str


@dataclass
class VerifyReport:
    events: int
    entries: int
    #: How many guarded tables (keys, trust, named banks, rules, decisions...) were checked.
    guarded: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
