"""What the bank offers, store by store, as typing Protocols: the packages that use a bank
(`index`, `scan`, `exchange`, `service`, `reports`, `cli`) depend on these, never on the
classes that implement them (bank/_*.py over one `Database`, for SQLite and PostgreSQL alike).

A store's writes each run in one transaction with their audit event. A transaction opened
inside another (`bank.db.transaction()`) joins it, so a caller can make several writes, of
several stores, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from hashwarden._sql import Database
from hashwarden.bank.base import (
    AddResult,
    AuditEvent,
    BankStats,
    ChangeResult,
    Entry,
    NewEntry,
    VerifyReport,
)
from hashwarden.signals.base import Signal

__all__ = [
    "AuditLog",
    "BankStore",
    "ChangeStore",
    "EntryStore",
    "EventStore",
    "KnownGoodStore",
    "ProvenanceStore",
    "TrustStore",
    "ViewStore",
]


class EntryStore(Protocol):
    """Entries and their signals."""

    def add(self, entry: NewEntry, *, actor: str = "cli") -> int: ...

    def add_many(
        self,
        entries: Iterable[NewEntry],
        *,
        actor: str = "cli",
        action: str = "entries.add",
        on_duplicate: str = "skip",
        detail: dict[str, Any] | None = None,
    ) -> AddResult: ...

    def update(self, entry_id: int, *, actor: str = "cli", **changes: Any) -> Entry: ...

    def remove(self, entry_id: int, *, actor: str = "cli", reason: str | None = None) -> Entry: ...

    def remove_by_signal(
        self, signal: Signal, *, actor: str = "cli", reason: str | None = None
    ) -> Entry: ...

    def get(self, entry_id: int) -> Entry: ...

    def by_id(self, ids: Iterable[int]) -> dict[int, Entry]: ...

    def all(self, *, since_version: int = 0) -> Iterator[Entry]: ...

    def find(self, term: str, *, after: int = 0, limit: int = 100) -> list[Entry]: ...

    def signals(self, kind: str) -> Iterator[tuple[int, str]]: ...

    def lookup(self, kind: str, values: Iterable[str]) -> dict[str, int]: ...

    def count(self) -> int: ...

    def count_by_kind(self) -> dict[str, int]: ...

    def count_by_category(self) -> dict[str, int]: ...


class ChangeStore(Protocol):
    """A peer's changes, applied in bulk."""

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
    ) -> ChangeResult: ...


class ProvenanceStore(Protocol):
    """Organisations' claims on entries, their votes, and the consensus category."""

    def claims(self, entry_id: int) -> list[tuple[str, str, str | None, str]]: ...

    def votes(self, entry_id: int) -> list[tuple[str, str, str | None, str]]: ...

    def conflicts(self) -> dict[int, dict[str, str]]: ...

    def vote(
        self, entry_id: int, org: str, vote: str, *, reason: str | None = None, actor: str = "cli"
    ) -> str: ...

    def disputed(self) -> set[int]: ...


class KnownGoodStore(Protocol):
    """Sets of signals known not to be of interest."""

    def add(
        self,
        set_name: str,
        signals: Iterable[Signal],
        *,
        source: str | None = None,
        actor: str = "cli",
    ) -> int: ...

    def signals(self, kind: str, *, limit: int = -1) -> Iterator[tuple[str, str]]: ...

    def lookup(self, kind: str, values: Iterable[str]) -> dict[str, str]: ...

    def sets(self) -> dict[str, int]: ...


class TrustStore(Protocol):
    """Trusted keys, the origins they sign for, and how far each origin was applied."""

    def all_keys(self) -> list[tuple[str, str, str, str | None]]: ...

    def key(self, public_key: str) -> tuple[str, str | None] | None: ...

    def bundle_sequence(self, origin: str) -> int: ...

    def bound_key(self, origin: str) -> tuple[str, bool] | None: ...

    def origins_of(self, key_name: str) -> list[str]: ...


class EventStore(Protocol):
    """Statistics events."""

    def add(self, rows: Sequence[tuple[Any, ...]], *, actor: str = "cli") -> int: ...

    def between(self, start: str, end: str) -> list[tuple[Any, ...]]: ...


class ViewStore(Protocol):
    """The PDQ of views of entries banked from files (signals/views.py)."""

    def add(
        self,
        views: Mapping[int, Mapping[str, str]],
        *,
        replace: bool = True,
        actor: str = "cli",
    ) -> list[int]: ...

    def for_files(
        self, files: Iterable[tuple[str, str, Mapping[str, str]]]
    ) -> tuple[dict[int, dict[str, str]], int]: ...

    def of(self, ids: Iterable[int]) -> dict[int, dict[str, str]]: ...

    def all(self) -> Iterator[tuple[int, str, str]]: ...

    def count(self) -> tuple[int, int]: ...


class AuditLog(Protocol):
    """The audit log, and the audited writes of tables that live beside the bank's own."""

    def record(self, actor: str, action: str, detail: dict[str, Any]) -> int: ...

    def tracked(
        self, table: str, where: str, params: Sequence[Any] = ()
    ) -> AbstractContextManager[Database]: ...

    def tracked_appends(self, table: str) -> AbstractContextManager[Database]: ...

    def head(self) -> tuple[int, str]: ...

    def count(self) -> int: ...

    def events(self, *, after: int = 0) -> Iterator[AuditEvent]: ...

    def history(self, entry_id: int) -> list[AuditEvent]: ...


class BankStore(Protocol):
    """A whole bank: its stores, and what concerns all of them."""

    @property
    def db(self) -> Database: ...

    @property
    def entries(self) -> EntryStore: ...

    @property
    def changes(self) -> ChangeStore: ...

    @property
    def provenance(self) -> ProvenanceStore: ...

    @property
    def known_good(self) -> KnownGoodStore: ...

    @property
    def trust(self) -> TrustStore: ...

    @property
    def events(self) -> EventStore: ...

    @property
    def views(self) -> ViewStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def location(self) -> str: ...

    @property
    def path(self) -> Path: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def bank_id(self) -> str: ...

    def fingerprint(self) -> str: ...

    def stats(self) -> BankStats: ...

    def verify(self) -> VerifyReport: ...

    def close(self) -> None: ...
