"""Triage seized files against the bank: known, known-good, unknown, and candidate new series."""

from hashwarden.scan.pipeline import FileRecord, ScanResult, cluster_unknown, run_scan
from hashwarden.scan.reader import Item, Limits, read_items

__all__ = [
    "FileRecord",
    "Item",
    "Limits",
    "ScanResult",
    "cluster_unknown",
    "read_items",
    "run_scan",
]
