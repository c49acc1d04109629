"""Triage seized files against the bank: known, known-good, unknown, and candidate new series."""

from hashwarden.scan.pipeline import (
    EXIT_CLEAN,
    EXIT_CUT_SHORT,
    EXIT_ERRORS,
    EXIT_MATCHES,
    EXIT_MATCHES_AND_ERRORS,
    MAX_CLUSTER_IMAGES,
    FileRecord,
    RecordSpool,
    ScanResult,
    cluster_unknown,
    run_scan,
    strongest_first,
)
from hashwarden.scan.reader import LIMIT_FLAGS, Item, Limits, ReadStats, read_items

__all__ = [
    "EXIT_CLEAN",
    "EXIT_CUT_SHORT",
    "EXIT_ERRORS",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
    "LIMIT_FLAGS",
    "MAX_CLUSTER_IMAGES",
    "FileRecord",
    "Item",
    "Limits",
    "ReadStats",
    "RecordSpool",
    "ScanResult",
    "cluster_unknown",
    "read_items",
    "run_scan",
    "strongest_first",
]
