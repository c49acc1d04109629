"""Triage seized files against the bank: known, known-good, unknown, and candidate new series.

The result types (`FileRecord`, `ScanResult`, ...) live in `hashwarden._types`, where the reports
import them without the pipeline; the exit codes in `hashwarden.errors`. The names are imported
on first use, so the walk (`hashwarden.scan.walk`, what `hash` lists files with) comes without
the pipeline and the matcher.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashwarden._types import (
        LIMIT_FLAGS,
        STATUSES,
        FileRecord,
        Limits,
        RecordSpool,
        ScanResult,
    )
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

_HOMES = {
    "hashwarden._types": [
        "LIMIT_FLAGS",
        "STATUSES",
        "FileRecord",
        "Limits",
        "RecordSpool",
        "ScanResult",
    ],
    "hashwarden.errors": [
        "EXIT_CLEAN",
        "EXIT_CUT_SHORT",
        "EXIT_ERRORS",
        "EXIT_MATCHES",
        "EXIT_MATCHES_AND_ERRORS",
    ],
    "hashwarden.scan.pipeline": [
        "MAX_CLUSTER_IMAGES",
        "cluster_unknown",
        "run_scan",
        "strongest_first",
    ],
    "hashwarden.scan.reader": ["Item", "ReadStats", "read_items"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
