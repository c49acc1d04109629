"""The scan: read → hash → match → classify → group the unknown → report.

Each file ends in one status: `matched` (exact or PDQ near-duplicate of a bank entry),
`known_good` (in a known-good set), `unknown`, `container` (an archive whose members are
records of their own: not content to look at, unless it matched itself), or `error` (could not
be read or decoded, and nothing matched it). Unknown images are grouped into near-duplicate
clusters: candidate new series, which is where an investigator looks for a child still at risk.
A file's matches are ordered as evidence, strongest first (`strongest_first`).

Records flow one way and are not held: each goes to `on_item` and to the result's record list,
which for a large case is a `RecordSpool` (JSON lines on disk, read back in order). The scan
keeps only bounded aggregates: counts, categories, and the PDQ hashes of unknown images for
the clustering (at most `max_cluster_images` of them).
"""

from __future__ import annotations

import json
import platform
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashwarden import __version__
from hashwarden._time import utc_now
from hashwarden.bank import open_bank
from hashwarden.errors import (  # named once, in errors.py; re-exported for callers
    EXIT_CLEAN,
    EXIT_CUT_SHORT,
    EXIT_ERRORS,
    EXIT_MATCHES,
    EXIT_MATCHES_AND_ERRORS,
    UsageError,
)
from hashwarden.index.matcher import MIN_PDQ_QUALITY, BankMatcher, Match
from hashwarden.scan.reader import Item, Limits, ReadStats, read_items
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.parallel import hash_in_parallel

__all__ = [
    "EXIT_CLEAN",
    "EXIT_CUT_SHORT",
    "EXIT_ERRORS",
    "EXIT_MATCHES",
    "EXIT_MATCHES_AND_ERRORS",
    "MAX_CLUSTER_IMAGES",
    "FileRecord",
    "RecordSpool",
    "ScanResult",
    "cluster_unknown",
    "run_scan",
    "strongest_first",
]


#: Unknown images beyond this many are classified but not grouped into series: their PDQ
#: hashes (32 bytes each) are the one thing a scan keeps per file until it ends.
MAX_CLUSTER_IMAGES = 1_000_000

STATUSES = ("matched", "known_good", "unknown", "error", "container")

#: The cryptographic hashes, strongest first: what investigators and courts look for.
CRYPTO_KINDS = ("sha256", "sha1", "md5")


def _is_exact(kind: str) -> bool:
    try:
        return default_registry().get(kind).exact
    except UsageError:  # a kind no longer registered: the matcher found it by look-up
        return True


def strongest_first(matches: Iterable[Match]) -> list[Match]:
    """Matches ordered as evidence: cryptographic exact matches (SHA-256, SHA-1, MD5), then
    other exact kinds (P2P identifiers, fingerprints stored as given), then near matches (PDQ,
    vPDQ) by distance; so an exact copy is named by its SHA-256, not by its ed2k."""

    def rank(match: Match) -> tuple[int, int, int, str, int]:
        if match.kind in CRYPTO_KINDS:
            tier, order = 0, CRYPTO_KINDS.index(match.kind)
        else:
            tier, order = (1 if _is_exact(match.kind) else 2), 0
        return tier, order, match.distance, match.kind, match.entry

    return sorted(matches, key=rank)


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
    #: The `Limits` field that cut this file, or the rest of the archive, short.
    limit: str | None = None

    def to_json(self) -> dict[str, Any]:
        record = dict(self.__dict__)
        record["matches"] = [m.to_json() for m in self.matches]
        return record

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileRecord:
        fields = dict(data)
        fields["matches"] = [Match(**m) for m in data.get("matches", [])]
        return cls(**fields)


class RecordSpool:
    """A scan's records as JSON lines on disk, each written (and flushed) as it is made, and
    read back in order as often as needed: a case of millions of files is reported without
    holding it in memory, and an interrupted scan leaves every record it made."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._count = 0
        #: Record number → cluster number, set when the scan ends.
        self.clusters: dict[int, int] = {}
        self._out = path.open("w", encoding="utf-8", errors="backslashreplace", buffering=1)

    def append(self, record: FileRecord) -> None:
        self._out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._count += 1

    def close(self) -> None:
        self._out.close()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[FileRecord]:
        if not self._out.closed:
            self._out.flush()
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                record = FileRecord.from_json(json.loads(line))
                record.cluster = self.clusters.get(number)
                yield record


@dataclass
class ScanResult:
    """A scan's record (tool, bank, inputs, counts, limits...), its files (held, or spooled on
    disk) and its clusters of unknown images (record numbers, in the order files are read)."""

    record: dict[str, Any]
    files: list[FileRecord] | RecordSpool
    clusters: list[list[int]]

    @property
    def counts(self) -> dict[str, int]:
        if "counts" in self.record:
            return dict(self.record["counts"])
        found = Counter(f.status for f in self.files)
        return {s: found.get(s, 0) for s in STATUSES}

    @property
    def cut_short(self) -> dict[str, int]:
        """How many records each limit cut short; empty when the scan read everything."""
        return dict(self.record.get("cut_short", {}))

    @property
    def exit_code(self) -> int:
        counts = self.counts
        if counts["matched"]:
            incomplete = counts["error"] or self.cut_short
            return EXIT_MATCHES_AND_ERRORS if incomplete else EXIT_MATCHES
        if self.cut_short:
            return EXIT_CUT_SHORT
        return EXIT_ERRORS if counts["error"] else EXIT_CLEAN


def _source(item: Item) -> Path | bytes | None:
    if item.error is not None:
        return None
    return item.data if item.data is not None else item.disk_path


def _classify(
    item: Item, hashes: ContentHashes | None, error: str | None, matcher: BankMatcher
) -> FileRecord:
    record = FileRecord(
        item.path, "error", size=item.size, error=error, notes=list(item.notes), limit=item.limit
    )
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
    record.matches, record.known_good = strongest_first(result.matches), result.known_good
    if result.matches:
        record.status = "matched"
        record.error = hashes.image_error
    elif result.known_good:
        record.status = "known_good"
    elif item.archive is not None:  # its members are records of their own
        record.status = "container"
    elif hashes.image_error:
        record.error = hashes.image_error
    else:
        record.status = "unknown"
    return record


def _clusterable(record: FileRecord) -> bool:
    return (
        record.status == "unknown"
        and bool(record.pdq)
        and (record.pdq_quality or 0) >= MIN_PDQ_QUALITY
    )


def _single_linkage(hashes: bytes, threshold: int) -> list[list[int]]:
    """Groups (of two or more) of the 32-byte PDQ hashes within `threshold` of each other,
    as positions, largest group first."""
    words = np.frombuffer(hashes, dtype=np.uint64).reshape(-1, 4)
    if len(words) < 2:
        return []
    parent = list(range(len(words)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a in range(len(words) - 1):
        distances = np.bitwise_count(words[a + 1 :] ^ words[a]).sum(axis=1)
        for offset in np.flatnonzero(distances <= threshold):
            ra, rb = find(a), find(a + 1 + int(offset))
            if ra != rb:
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for position in range(len(words)):
        groups.setdefault(find(position), []).append(position)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def cluster_unknown(files: list[FileRecord], threshold: int) -> list[list[int]]:
    """Group unknown images whose PDQ hashes are within `threshold` (single linkage)."""
    members = [i for i, f in enumerate(files) if _clusterable(f)]
    hashes = b"".join(bytes.fromhex(files[i].pdq or "") for i in members)
    clusters = [[members[p] for p in group] for group in _single_linkage(hashes, threshold)]
    for number, group in enumerate(clusters, start=1):
        for index in group:
            files[index].cluster = number
    return clusters


class _UnknownImages:
    """The PDQ hashes of unknown images, kept for the clustering at the end (bounded)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.numbers = array("q")
        self.hashes = bytearray()
        self.left_out = 0

    def add(self, number: int, pdq: str) -> None:
        if len(self.numbers) >= self.cap:
            self.left_out += 1
            return
        self.numbers.append(number)
        self.hashes += bytes.fromhex(pdq)

    def clusters(self, threshold: int) -> list[list[int]]:
        groups = _single_linkage(bytes(self.hashes), threshold)
        return [[self.numbers[p] for p in group] for group in groups]


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
    spool: Path | None = None,
    max_cluster_images: int = MAX_CLUSTER_IMAGES,
    on_hashes: Callable[[FileRecord, ContentHashes | None], None] | None = None,
    hasher: Callable[..., Iterator[tuple[Item, ContentHashes | None, str | None]]] | None = None,
) -> ScanResult:
    """Scan the inputs against the bank (opened read-only) within `limits` for the whole scan.

    Each file's record goes to `on_item` as it is made. With `spool`, records are written to
    that JSON-lines file as they arrive and `files` reads them back from it, so memory does
    not grow with the case; without, they are held in a list. `on_hashes` gets each record
    with all its hashes (PDQ variants, P2P identifiers), e.g. to keep them in a case store.
    `hasher` hashes in place of `hash_in_parallel` (same arguments and results), e.g. on a
    Dask cluster (`hashwarden.cluster`).
    """
    paths = list(inputs)
    bounds = limits or Limits()
    stats = ReadStats()
    started = utc_now()
    files: list[FileRecord] | RecordSpool = []
    counts: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    unknown = _UnknownImages(max_cluster_images)
    try:
        with open_bank(bank_location, readonly=True) as bank:
            fingerprint = bank.fingerprint()
            matcher = BankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)
            if spool is not None:  # only now: a bank that cannot be opened leaves nothing
                files = RecordSpool(spool)
            hashed = (hasher or hash_in_parallel)(
                read_items(paths, bounds, stats),
                _source,
                workers=workers,
                pdq_mode=pdq_mode,
                variants=True,
            )
            for number, (item, hashes, error) in enumerate(hashed):
                record = _classify(item, hashes, error or item.error, matcher)
                files.append(record)
                counts[record.status] += 1
                if record.matches:
                    categories[record.matches[0].category] += 1
                elif _clusterable(record):
                    unknown.add(number, record.pdq or "")
                if on_item is not None:
                    on_item(record)
                if on_hashes is not None:
                    on_hashes(record, hashes)
    finally:
        if isinstance(files, RecordSpool):
            files.close()
    clusters = unknown.clusters(threshold)
    for cluster, group in enumerate(clusters, start=1):
        for number in group:
            if isinstance(files, RecordSpool):
                files.clusters[number] = cluster
            else:
                files[number].cluster = cluster
    cut_short = dict(sorted(stats.cut_short.items()))
    result = ScanResult({}, files, clusters)
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
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "matched_by_category": dict(sorted(categories.items())),
        "clusters": len(clusters),
        "complete": not cut_short,
        "cut_short": cut_short,
        "limits": asdict(bounds),
        "read": stats.to_json(),
        "images_not_clustered": unknown.left_out,
    }
    result.record["exit_code"] = result.exit_code
    return result
