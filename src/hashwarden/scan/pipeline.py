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

import platform
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hashwarden import __version__
from hashwarden._time import utc_now
from hashwarden._types import STATUSES, FileRecord, Limits, Match, RecordSpool, ScanResult
from hashwarden.bank import open_bank
from hashwarden.errors import UsageError
from hashwarden.index.matcher import MIN_PDQ_QUALITY, BankMatcher
from hashwarden.scan.reader import Item, ReadStats, read_items
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.parallel import hash_in_parallel
from hashwarden.signals.registry import default_registry
from hashwarden.signals.views import QUERY_VIEWS

# STATUSES, FileRecord, RecordSpool and ScanResult live in hashwarden._types (for the reports,
# which must not import the pipeline) and are named here too, where a scan's caller looks.
__all__ = [
    "MAX_CLUSTER_IMAGES",
    "STATUSES",
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
        hashes.signals(),
        pdq_quality=hashes.pdq_quality,
        pdq_variants=hashes.pdq_variants,
        pdq_views=hashes.pdq_views,
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
            # Kinds beyond the digests (the P2P identifiers) only where the bank holds some.
            extra = [k for k in default_registry().computed_kinds() if matcher.holds(k)]
            hashed = (hasher or hash_in_parallel)(
                read_items(paths, bounds, stats),
                _source,
                workers=workers,
                pdq_mode=pdq_mode,
                variants=True,
                extra_kinds=extra,
                # A query's views only where some entries have views to meet.
                views=QUERY_VIEWS if matcher.has_views else (),
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
