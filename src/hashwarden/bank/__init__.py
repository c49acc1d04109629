"""The hash bank: known fingerprints with category, series, provenance and an audit log.

SQLite (a file path) is the embedded default; a `postgresql://` DSN opens a PostgreSQL bank
that several nodes can share. Both behave the same.
"""

from __future__ import annotations

from pathlib import Path

from hashwarden.bank.base import AddResult, AuditEvent, BankStats, Entry, NewEntry, VerifyReport
from hashwarden.bank.categories import CATEGORIES, parse_category
from hashwarden.bank.postgres import PostgresBank, is_postgres_location
from hashwarden.bank.sqlite import SqliteBank

__all__ = [
    "CATEGORIES",
    "AddResult",
    "AuditEvent",
    "BankStats",
    "Entry",
    "NewEntry",
    "PostgresBank",
    "SqliteBank",
    "VerifyReport",
    "create_bank",
    "open_bank",
    "parse_category",
]


def open_bank(location: str | Path, *, readonly: bool = False) -> SqliteBank:
    """Open the bank at a file path or a `postgresql://` DSN."""
    text = str(location)
    if is_postgres_location(text):
        return PostgresBank.open(text, readonly=readonly)
    return SqliteBank.open(location, readonly=readonly)


def create_bank(location: str | Path) -> SqliteBank:
    """Create a bank at a new file path or in an empty PostgreSQL database."""
    text = str(location)
    if is_postgres_location(text):
        return PostgresBank.create(text)
    return SqliteBank.create(location)
