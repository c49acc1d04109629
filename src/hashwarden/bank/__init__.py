"""The hash bank: known fingerprints with category, series, provenance and an audit log.

SQLite (a file path) is the embedded default; a `postgresql://` DSN opens a PostgreSQL bank
that several nodes can share. Both behave the same: one `Bank` of stores by concern over one
database layer (see docs/bank.md, "How the bank is built").
"""

from __future__ import annotations

from hashwarden.bank._bank import Bank, create_bank, open_bank
from hashwarden.bank.base import (
    ORIGIN_KEY,
    AddResult,
    AuditEvent,
    BankStats,
    Entry,
    NewEntry,
    VerifyReport,
)
from hashwarden.bank.categories import CATEGORIES, parse_category
from hashwarden.bank.protocols import (
    AuditLog,
    BankStore,
    ChangeStore,
    EntryStore,
    EventStore,
    KnownGoodStore,
    ProvenanceStore,
    TrustStore,
    ViewStore,
)

__all__ = [
    "CATEGORIES",
    "ORIGIN_KEY",
    "AddResult",
    "AuditEvent",
    "AuditLog",
    "Bank",
    "BankStats",
    "BankStore",
    "ChangeStore",
    "Entry",
    "EntryStore",
    "EventStore",
    "KnownGoodStore",
    "NewEntry",
    "ProvenanceStore",
    "TrustStore",
    "VerifyReport",
    "ViewStore",
    "create_bank",
    "open_bank",
    "parse_category",
]
