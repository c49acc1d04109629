"""The bank: stores by concern over one `Database` (a SQLite file or a PostgreSQL database).

`open_bank` and `create_bank` are the ways in; the `Bank` they return composes the stores
(`entries`, `changes`, `provenance`, `known_good`, `trust`, `events`, `views`, `audit`) and answers
what concerns the whole bank (its id, fingerprint, statistics, `verify`).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from hashwarden._sql import Database, is_postgres_location
from hashwarden._time import utc_now
from hashwarden.bank._audit import SqlAudit
from hashwarden.bank._changes import SqlChanges
from hashwarden.bank._entries import SqlEntries
from hashwarden.bank._events import SqlEvents
from hashwarden.bank._known_good import SqlKnownGood
from hashwarden.bank._provenance import SqlProvenance
from hashwarden.bank._trust import SqlTrust
from hashwarden.bank._verify import verify
from hashwarden.bank._views import VIEWS_MIGRATION, SqlViews
from hashwarden.bank.base import BankStats, VerifyReport
from hashwarden.bank.guarded import GUARDED
from hashwarden.bank.schema import MIGRATIONS, READ_OPTIONAL, SCHEMA_FAMILY
from hashwarden.errors import ConflictError, DataError, NotFoundError

__all__ = ["Bank", "create_bank", "open_bank"]


class Bank:
    """A hash bank. Get one from `open_bank` or `create_bank`; use it as a context manager."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.audit = SqlAudit(db, GUARDED)
        self.entries = SqlEntries(db, self.audit)
        self.changes = SqlChanges(db, self.audit)
        self.provenance = SqlProvenance(db, self.audit)
        self.known_good = SqlKnownGood(db, self.audit)
        self.trust = SqlTrust(db)
        self.events = SqlEvents(db, self.audit)
        self.views = SqlViews(db, self.audit)

    @property
    def location(self) -> str:
        """Where the bank is, for messages and reports (a path, or a DSN without password)."""
        return self.db.location

    @property
    def path(self) -> Path:
        return Path(self.db.location)

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    @property
    def bank_id(self) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'bank_id'").fetchone()
        return str(row[0])

    def fingerprint(self) -> str:
        """Names this bank at this state: its id, audit sequence and chain head."""
        seq, digest = self.audit.head()
        return f"{self.bank_id}:{seq}:{digest[:16]}"

    def stats(self) -> BankStats:
        return BankStats(
            entries=self.entries.count(),
            signals_by_kind=self.entries.count_by_kind(),
            entries_by_category=self.entries.count_by_category(),
            known_good_sets=self.known_good.sets(),
            audit_events=self.audit.count(),
            bank_id=self.bank_id,
            fingerprint=self.fingerprint(),
        )

    def verify(self) -> VerifyReport:
        """Check the audit chain, each entry against its digest, and the bank (entries,
        known-good sets, guarded tables) against the log."""
        return verify(self.db, self.audit, self.entries, self.known_good)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening ----------------------------------------------------------------------------
    def _initialise(self) -> None:
        """Lay out the schema and the bank's identity in a new, empty store."""
        self.db.migrate(MIGRATIONS)
        with self.db.transaction() as db:
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("family", SCHEMA_FAMILY), ("bank_id", str(uuid.uuid4())), ("created", utc_now())],
            )
            sealed = self.audit.seal(list(self.audit.guarded))
            self.audit.record("system", "bank.create", {"sealed": sealed} if sealed else {})

    def _check_family(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'family'").fetchone()
        if row is None or row[0] != SCHEMA_FAMILY:
            raise DataError(f"{self.location} is not a hashwarden bank")

    def _prepare(self) -> None:
        """Bring an existing bank up to date (for writing), or check it is (read-only)."""
        if not self.readonly:
            self.db.migrate(MIGRATIONS)
            self.audit.seal_unsealed()
            return
        applied = self.db.applied_migrations()
        missing = [n for n, _ in MIGRATIONS if n not in applied and n not in READ_OPTIONAL]
        # A bank from before a read-optional migration reads as one without its rows (scans
        # and matches of it work as they did); the tables come with the first open for writing.
        if VIEWS_MIGRATION not in applied:
            self.views = SqlViews(self.db, self.audit, present=False)
        if missing:
            raise DataError(
                f"{self.location} needs migrations {', '.join(missing)}: open it once for writing"
            )
        # A table a read-optional migration has not made yet holds nothing to guard.
        present = [g for g in self.audit.guarded if self.db.has_table(g.table)]
        sealed = self.audit.sealed()
        if present and not sealed:
            raise DataError(
                f"{self.location}: the audit log does not cover"
                f" {', '.join(g.table for g in present)} yet: open it once for writing"
            )
        # A table guarded since the bank was last written is sealed by its next open for
        # writing; until then the bank reads as it was, vouched for as far as it was then
        # (verify names a table its log sealed that the bank's seal marker no longer lists).
        self.audit.guarded = tuple(g for g in present if g.table in sealed)


def create_bank(location: str | Path) -> Bank:
    """Create a bank at a new file path or in an empty PostgreSQL database."""
    text = str(location)
    if is_postgres_location(text):
        bank = Bank(Database.postgres(text))
        if bank.db.has_table("meta"):
            bank.close()
            raise ConflictError(f"{bank.location} already holds a bank; use an empty database")
    else:
        target = Path(location)
        if target.exists():
            raise ConflictError(f"{target} already exists; a new bank needs a new file")
        if not target.parent.exists():
            raise NotFoundError(f"folder {target.parent} does not exist")
        bank = Bank(Database.sqlite(target, create=True))
    bank._initialise()
    return bank


def open_bank(location: str | Path, *, readonly: bool = False) -> Bank:
    """Open the bank at a file path or a `postgresql://` DSN."""
    text = str(location)
    if is_postgres_location(text):
        bank = Bank(Database.postgres(text, readonly=readonly))
        if not bank.db.has_table("meta"):
            bank.close()
            raise DataError(f"{bank.location} holds no hashwarden bank (create one first)")
        bank._check_family()
    else:
        target = Path(location)
        if not target.is_file():
            raise NotFoundError(f"no bank at {target} (create one with `hashwarden bank init`)")
        try:
            bank = Bank(Database.sqlite(target, readonly=readonly))
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{target} is not a hashwarden bank ({exc})") from exc
        try:
            bank._check_family()
        except sqlite3.DatabaseError as exc:
            bank.close()
            raise DataError(f"{target} is not a hashwarden bank ({exc})") from exc
        except DataError:
            bank.close()
            raise
    bank._prepare()
    return bank
