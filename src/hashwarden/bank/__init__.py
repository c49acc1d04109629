"""The hash bank: known fingerprints with category, series, provenance and an audit log."""

from hashwarden.bank.base import AddResult, AuditEvent, BankStats, Entry, NewEntry, VerifyReport
from hashwarden.bank.categories import CATEGORIES, parse_category
from hashwarden.bank.sqlite import SqliteBank

__all__ = [
    "CATEGORIES",
    "AddResult",
    "AuditEvent",
    "BankStats",
    "Entry",
    "NewEntry",
    "SqliteBank",
    "VerifyReport",
    "parse_category",
]
