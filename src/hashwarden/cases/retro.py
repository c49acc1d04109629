"""Retro-hunting: the files of stored cases matched against the bank's entries added or
changed since a version, so a hash banked today finds yesterday's evidence.

The work is cut into parts, each a range of stored file ids (`Part`); `match_part` matches one
part against the new entries and needs nothing but the store's folder and the entries, so the
parts run here one after the other, or on a Dask cluster (`hashwarden.cluster`), with the same
result: the hits are sorted, and the same filtering is applied to all of them afterwards.

md5, sha1, sha256 and PDQ (with the variants a scan keeps: turned, mirrored, trimmed) are read
from the store's columns (`cases.columns`) segment by segment, memory-mapped, and matched
vectorised: digests by 64-bit keys against the new entries' sorted keys, PDQ through word
tables built once per part over the new entries, which are few next to the case hashes
(thousands against millions). Other exact kinds (P2P identifiers) are matched by a join on
the store's (kind, value) index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashwarden._time import utc_now
from hashwarden.bank.protocols import BankStore
from hashwarden.cases.columns import (
    DIGESTS,
    UNKNOWN_QUALITY,
    DigestMatcher,
    NearMatcher,
    read_segments,
)
from hashwarden.cases.store import CaseStore
from hashwarden.index.matcher import MIN_PDQ_QUALITY

__all__ = [
    "Hit",
    "NewEntries",
    "Part",
    "RetroResult",
    "match_part",
    "new_entries",
    "plan_parts",
    "retro_hunt",
    "run_locally",
]

#: Files per part: what one process (or one cluster task) matches at a time.
PART_FILES = 100_000


@dataclass(frozen=True)
class NewEntries:
    """The entries to hunt for, as plain data (shipped to cluster workers as it is)."""

    #: kind -> value -> entry ids, for every exact kind (md5, sha1, sha256, P2P kinds...).
    exact: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    pdq_ids: list[int] = field(default_factory=list)
    pdq_values: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        ids = {e for values in self.exact.values() for ids in values.values() for e in ids}
        return len(ids | set(self.pdq_ids))


@dataclass(frozen=True)
class Part:
    """A range of stored file ids of some cases: the unit of work."""

    store: Path
    case_ids: tuple[int, ...]
    lo: int
    hi: int


#: (file id, entry id, kind, variant, stored value, distance)
Hit = tuple[int, int, str, str, str, int]


def plan_parts(store: CaseStore, case_ids: Sequence[int], *, size: int = PART_FILES) -> list[Part]:
    """The parts covering every kept file of these cases."""
    lo, hi = store.file_range(case_ids)
    return [
        Part(store.root, tuple(case_ids), start, min(hi, start + size - 1))
        for start in range(lo, hi + 1, size)
    ]


def match_part(part: Part, new: NewEntries, threshold: int) -> list[Hit]:
    """Every (file, entry) of the part that matches: exact kinds by value, PDQ within
    `threshold` bits (the nearest of its variants). Opens the store read-only by itself, so a
    cluster worker with the store on shared storage runs it as it is."""
    nearest: dict[tuple[int, int], Hit] = {}

    def keep(hit: Hit) -> None:
        key = (hit[0], hit[1])
        best = nearest.get(key)
        if best is None or _preference(hit) < _preference(best):
            nearest[key] = hit

    with CaseStore.open(part.store, readonly=True) as store:
        for kind, values in sorted(new.exact.items()):
            if kind in DIGESTS:
                continue
            joined = store.hashes(kind, sorted(values), part.case_ids, part.lo, part.hi)
            for found in joined:
                for entry_id in values[found.value]:
                    keep((found.file_id, entry_id, kind, found.variant, found.value, 0))
        folders = store.column_folders(part.case_ids, part.lo, part.hi)
    digests = {kind: _Digests(new.exact.get(kind, {}), size) for kind, size in DIGESTS.items()}
    near = NearMatcher(_pdq_bytes(new.pdq_values), threshold) if new.pdq_ids else None
    for segment in read_segments(folders, part.lo, part.hi):
        for kind, wanted in digests.items():
            if not wanted.values:
                continue
            rows = segment.rows(kind, part.lo, part.hi)
            files = segment.array(f"{kind}.file")[rows]
            for row, index in wanted.matcher.matches(segment.array(kind)[rows]):
                value = wanted.values[index]
                for entry_id in wanted.entries[value]:
                    keep((int(files[row]), entry_id, kind, "", value, 0))
        if near is not None:
            rows = segment.rows("pdq", part.lo, part.hi)
            quality = segment.array("pdq.quality")[rows]
            # Low-quality PDQ is left out, as a scan leaves it out.
            good = np.flatnonzero((quality >= MIN_PDQ_QUALITY) | (quality == UNKNOWN_QUALITY))
            good += rows.start
            stored = segment.array("pdq")[good]
            files = segment.array("pdq.file")[good]
            variants = segment.array("pdq.variant")[good]
            for row, index, distance in zip(*near.pairs(stored), strict=True):
                keep(
                    (
                        int(files[row]),
                        new.pdq_ids[index],
                        "pdq",
                        segment.variants[int(variants[row])],
                        stored[row].tobytes().hex(),
                        int(distance),
                    )
                )
    return sorted(nearest.values())


def _preference(hit: Hit) -> tuple[int, str, bool, str]:
    """Which of two hits of one (file, entry) is reported: the nearest, the original before a
    variant, an exact kind before PDQ, then by kind name."""
    return hit[5], hit[3], hit[2] == "pdq", hit[2]


class _Digests:
    """The new entries' values of one digest kind, as bytes for `DigestMatcher` (a value
    that is not a digest of the kind's size cannot equal a stored one and is left out)."""

    def __init__(self, entries: dict[str, list[int]], size: int) -> None:
        self.entries = entries
        self.values: list[str] = []
        raw: list[bytes] = []
        for value in sorted(entries):
            try:
                digest = bytes.fromhex(value)
            except ValueError:
                continue
            if len(digest) == size and value == digest.hex():
                self.values.append(value)
                raw.append(digest)
        self.matcher = DigestMatcher(raw)


def _pdq_bytes(values: list[str]) -> np.ndarray:
    return np.frombuffer(b"".join(bytes.fromhex(v) for v in values), dtype=np.uint8).reshape(-1, 32)


def new_entries(bank: BankStore, since: int) -> tuple[NewEntries, dict[int, Any]]:
    """The bank's entries changed after version `since`, as `NewEntries`, and by id."""
    exact: dict[str, dict[str, list[int]]] = {}
    pdq_ids: list[int] = []
    pdq_values: list[str] = []
    entries: dict[int, Any] = {}
    for entry in bank.entries.all(since_version=since):
        entries[entry.id] = entry
        for signal in entry.signals:
            if signal.kind == "pdq":
                pdq_ids.append(entry.id)
                pdq_values.append(signal.value)
            elif signal.kind != "vpdq":  # videos are matched by a scan, frame by frame
                exact.setdefault(signal.kind, {}).setdefault(signal.value, []).append(entry.id)
    return NewEntries(exact, pdq_ids, pdq_values), entries


@dataclass
class RetroResult:
    """What a retro-hunt found, per case, and what it covered."""

    bank: str
    bank_id: str
    version: int
    started: str
    since: dict[str, int]
    entries: int
    parts: int
    files: dict[str, list[dict[str, Any]]]
    #: Per case: its channel and region (of its last scan), for statistics.
    origins: dict[str, dict[str, Any]]
    finished: str = ""

    @property
    def matched(self) -> int:
        return sum(len(found) for found in self.files.values())

    @property
    def exit_code(self) -> int:
        from hashwarden.errors import EXIT_CLEAN, EXIT_MATCHES

        return EXIT_MATCHES if self.matched else EXIT_CLEAN

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("origins")
        data["matched"] = self.matched
        data["exit_code"] = self.exit_code
        data["cases"] = {case: len(found) for case, found in self.files.items()}
        return data


#: (parts, new entries, threshold, called once a part is done) -> the hits, sorted.
Runner = Callable[[list[Part], NewEntries, int, Callable[[], None]], list[Hit]]


def _nothing() -> None:
    return None


def run_locally(
    parts: list[Part], new: NewEntries, threshold: int, part_done: Callable[[], None] = _nothing
) -> list[Hit]:
    """The parts one after the other, in this process."""
    hits: list[Hit] = []
    for part in parts:
        hits.extend(match_part(part, new, threshold))
        part_done()
    return sorted(hits)


def retro_hunt(
    bank: BankStore,
    store: CaseStore,
    *,
    since: int | None = None,
    cases: Sequence[str] | None = None,
    threshold: int = 31,
    runner: Runner = run_locally,
    part_files: int = PART_FILES,
    actor: str = "cli",
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> RetroResult:
    """Match the cases (all, or those named) against the entries changed after `since` (None:
    per case, after the version the last hunt with this bank reached, else the version its
    first scan matched against). Reports each (file, entry) once: what the file matched when
    scanned and what an earlier hunt reported are left out. Remembers what it reported.
    `progress`: given the number of parts, what to call as each is done (a progress bar)."""
    started = utc_now()
    names = list(cases) if cases else store.case_names()
    ids = {name: store.case_id(name) for name in names}
    bank_id = bank.bank_id
    version = bank.audit.head()[0]
    origins = store.scan_origin(list(ids.values()))
    hunted = store.retro_versions(bank_id)
    start: dict[str, int] = {}
    for name, case_id in ids.items():
        if since is not None:
            start[name] = since
        else:
            start[name] = hunted.get(case_id, origins[case_id]["banks"].get(bank_id, 0))
    lowest = min(start.values(), default=version)
    new, entries = new_entries(bank, lowest)
    if entries:
        store.build_columns(list(ids.values()))
    parts = plan_parts(store, list(ids.values()), size=part_files) if entries else []
    part_done = progress(len(parts)) if progress is not None and parts else _nothing
    hits = runner(parts, new, threshold, part_done) if parts else []
    files = store.files([h[0] for h in hits])
    reported = store.already_found(bank_id, [h[0] for h in hits])
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    pairs: list[tuple[int, int]] = []
    for file_id, entry_id, kind, variant, value, distance in hits:
        file = files[file_id]
        entry = entries[entry_id]
        if (
            entry.version <= start[file["case"]]
            or entry_id in file["matched_when_scanned"]
            or (file_id, entry_id) in reported
        ):
            continue
        pairs.append((file_id, entry_id))
        found[file["case"]].append(
            {
                "path": file["path"],
                "size": file["size"],
                "status_when_scanned": file["status"],
                "media_type": file["media_type"],
                "scan": file["scan"],
                "hashes": file["hashes"],
                "match": {
                    "entry": entry_id,
                    "kind": kind,
                    "value": entry.signal(kind) or value,
                    "distance": distance,
                    "orientation": variant or "original",
                    "category": entry.category,
                    "series": entry.series,
                    "victim_identified": bool(entry.victim_identified),
                    "entry_version": entry.version,
                },
            }
        )
    result = RetroResult(
        bank=bank.location,
        bank_id=bank_id,
        version=version,
        started=started,
        since=start,
        entries=len(entries),
        parts=len(parts),
        files=found,
        origins={
            name: {k: origins[i][k] for k in ("channel", "region")} for name, i in ids.items()
        },
    )
    store.record_hunt(
        bank_id,
        version,
        list(ids.values()),
        pairs,
        actor=actor,
        detail={"cases": len(ids), "entries": len(entries)},
    )
    result.finished = utc_now()
    return result
