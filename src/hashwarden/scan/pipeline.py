"""The scan: read → hash → match → classify → group the unknown → report.

Each file ends in one status: `matched` (exact or PDQ near-duplicate of a bank entry),
`known_good` (in a known-good set), `unknown`, or `error` (could not be read or decoded, and
nothing matched it). Unknown images are grouped into near-duplicate clusters: candidate new
series, which is where an investigator looks for a child still at risk.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashwarden import __version__
from hashwarden.bank import open_bank
from hashwarden.bank.sqlite import utc_now
from hashwarden.index.matcher import MIN_PDQ_QUALITY, BankMatcher, Match
from hashwarden.index.pdq import hex_to_words
from hashwarden.scan.reader import Item, Limits, read_items
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.parallel import hash_in_parallel

__all__ = [
    "EXIT_CLEAN",
    "EXIT_ERRORS",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
    "FileRecord",
    "ScanResult",
    "cluster_unknown",
    "run_scan",
]

EXIT_CLEAN = 0
EXIT_MATCHES = 1
EXIT_ERRORS = 6
EXIT_MATCHES_AND_ERRORS = 7

STATUSES = ("matched", "known_good", "unknown", "error")


@dataclass
class FileRecord:
    path: str
    status: str
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    media_type: str | None = None
    vpdq: str | None = None
    matches: list[Match] = field(default_factory=list)
    known_good: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    cluster: int | None = None

    def to_json(self) -> dict[str, Any]:
        record = dict(self.__dict__)
        record["matches"] = [m.to_json() for m in self.matches]
        return record


@dataclass
class ScanResult:
    record: dict[str, Any]
    files: list[FileRecord]
    clusters: list[list[int]]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(f.status for f in self.files)
        return {s: found.get(s, 0) for s in STATUSES}

    @property
    def exit_code(self) -> int:
        counts = self.counts
        if counts["matched"]:
            return EXIT_MATCHES_AND_ERRORS if counts["error"] else EXIT_MATCHES
        return EXIT_ERRORS if counts["error"] else EXIT_CLEAN


def _source(item: Item) -> Path | bytes | None:
    if item.error is not None:
        return None
    return item.data if item.data is not None else item.disk_path


def _classify(
    item: Item, hashes: ContentHashes | None, error: str | None, matcher: BankMatcher
) -> FileRecord:
    record = FileRecord(item.path, "error", size=item.size, error=error, notes=list(item.notes))
    if hashes is None:
        return record
    record.size = hashes.size
    record.md5, record.sha1, record.sha256 = hashes.md5, hashes.sha1, hashes.sha256
    record.vpdq = hashes.vpdq
    record.pdq, record.pdq_quality, record.media_type = (
        hashes.pdq,
        hashes.pdq_quality,
        hashes.media_type,
    )
    if (
        hashes.pdq is not None
        and hashes.pdq_quality is not None
        and hashes.pdq_quality < MIN_PDQ_QUALITY
    ):
        record.notes.append(f"low-quality PDQ ({hashes.pdq_quality}): exact matches only")
    if hashes.size == 0:
        record.notes.append("empty file")
    result = matcher.match(
        hashes.signals(), pdq_quality=hashes.pdq_quality, pdq_variants=hashes.pdq_variants
    )
    record.matches, record.known_good = result.matches, result.known_good
    if result.matches:
        record.status = "matched"
        record.error = hashes.image_error
    elif result.known_good:
        record.status = "known_good"
    elif hashes.image_error:
        record.error = hashes.image_error
    else:
        record.status = "unknown"
    return record


def cluster_unknown(files: list[FileRecord], threshold: int) -> list[list[int]]:
    """Group unknown images whose PDQ hashes are within `threshold` (single linkage)."""
    members = [
        i
        for i, f in enumerate(files)
        if f.status == "unknown" and f.pdq and (f.pdq_quality or 0) >= MIN_PDQ_QUALITY
    ]
    if len(members) < 2:
        return []
    words = hex_to_words(files[i].pdq or "" for i in members)
    parent = list(range(len(members)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in range(len(members) - 1):
        distances = np.bitwise_count(words[a + 1 :] ^ words[a]).sum(axis=1)
        for offset in np.flatnonzero(distances <= threshold):
            ra, rb = find(a), find(a + 1 + int(offset))
            if ra != rb:
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for local, index in enumerate(members):
        groups.setdefault(find(local), []).append(index)
    clusters = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
    for number, group in enumerate(clusters, start=1):
        for index in group:
            files[index].cluster = number
    return clusters


def run_scan(
    inputs: Iterable[Path],
    bank_location: str | Path,
    *,
    threshold: int = 31,
    limits: Limits | None = None,
    on_item: Callable[[FileRecord], None] | None = None,
    workers: int | None = None,
    pdq_mode: str = "fast",
    exclude_disputed: bool = False,
) -> ScanResult:
    """Scan the inputs against the bank (opened read-only) and return every file's record."""
    paths = list(inputs)
    started = utc_now()
    with open_bank(bank_location, readonly=True) as bank:
        fingerprint = bank.fingerprint()
        matcher = BankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)
        files: list[FileRecord] = []
        hashed = hash_in_parallel(
            read_items(paths, limits), _source, workers=workers, pdq_mode=pdq_mode, variants=True
        )
        for item, hashes, error in hashed:
            record = _classify(item, hashes, error or item.error, matcher)
            files.append(record)
            if on_item is not None:
                on_item(record)
    clusters = cluster_unknown(files, threshold)
    result = ScanResult({}, files, clusters)
    categories = Counter(m.category for f in files for m in f.matches[:1])
    result.record = {
        "tool": "hashwarden",
        "version": __version__,
        "python": platform.python_version(),
        "bank": bank.location,
        "bank_fingerprint": fingerprint,
        "inputs": [str(p) for p in paths],
        "threshold": threshold,
        "pdq_mode": pdq_mode,
        "started": started,
        "finished": utc_now(),
        "counts": result.counts,
        "matched_by_category": dict(sorted(categories.items())),
        "clusters": len(clusters),
        "exit_code": result.exit_code,
    }
    return result
