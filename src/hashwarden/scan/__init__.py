"""Triage seized files against the bank: known, known-good, unknown, and candidate new series.

The result types (`FileRecord`, `ScanResult`, ...) live in `hashwarden._types`, where the reports
import them without the pipeline; the exit codes in `hashwarden.errors`.
"""

from hashwarden._types import LIMIT_FLAGS, STATUSES, FileRecord, Limits, RecordSpool, ScanResult
from hashwarden.errors import (
    EXIT_CLEAN,
    EXIT_CUT_SHORT,
    EXIT_ERRORS,
    EXIT_MATCHES,
    EXIT_MATCHES_AND_ERRORS,
)
from hashwarden.scan.pipeline import (
    MAX_CLUSTER_IMAGES,
    cluster_unknown,
    run_scan,
    strongest_first,
)
from hashwarden.scan.reader import Item, ReadStats, read_items

__all__ = [
    "EXIT_CLEAN",
    "EXIT_CUT_SHORT",
    "EXIT_ERRORS",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
    "LIMIT_FLAGS",
    "MAX_CLUSTER_IMAGES",
    "STATUSES",
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
