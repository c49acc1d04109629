"""Plain data that crosses packages: what a match found and what a scan made of each file.

Here so that `reports/`, `service/` and the CLI can name a match or a scan's records without
importing the matcher or the scan pipeline (and numpy, Pillow and pdqhash with them). Imports
nothing of hashwarden but its errors.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hashwarden.errors import (
    EXIT_CLEAN,
    EXIT_CUT_SHORT,
    EXIT_ERRORS,
    EXIT_MATCHES,
    EXIT_MATCHES_AND_ERRORS,
)

__all__ = [
    "LIMIT_FLAGS",
    "STATUSES",
    "FileRecord",
    "Limits",
    "Match",
    "MatchResult",
    "RecordSpool",
    "ScanResult",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: A scan's file ends in one of these.
STATUSES = ("matched", "known_good", "unknown", "error", "container")


@dataclass
class Match:
    entry: int
    kind: str
    value: str
    distance: int
    category: str
    series: str | None
    victim_identified: bool
    #: How the content matched: "original", or the turn or trim that made it match.
    orientation: str = "original"
    #: For vPDQ: the share (%) of the query's frames found in the entry, and of the entry's
    #: frames found in the query.
    query_match: float | None = None
    compared_match: float | None = None
    #: For a PDQ match through views (signals/views.py): "query view/banked view", e.g.
    #: "c2/c6" (the query less 2% a side met the entry's picture less 6% a side), "full"
    #: for a whole picture; None when the whole pictures matched.
    view: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MatchResult:
    matches: list[Match]
    #: Known-good set names the content belongs to.
    known_good: list[str]


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile evidence from exhausting memory, disk or time.

    The first four count the whole scan, at every depth; the rest one archive or one member.
    docs/scan.md gives the reasons for each default.
    """

    #: Records in the report (files, members, and the records of cuts); the scan stops here.
    max_records: int = 10_000_000
    #: Archive members read or reported, at every depth, over the whole scan.
    max_members: int = 10_000_000
    #: Bytes of archive members expanded (decompressed or read), at every depth, whole scan.
    max_expanded_bytes: int = 256 * GiB
    #: Archives inside archives are opened down to this many levels.
    max_depth: int = 8
    #: An archive on disk larger than this is not opened, and everything expanded from one
    #: archive on disk, at every depth together, stays within it.
    max_archive_bytes: int = 4 * GiB
    #: Members read from one archive file (its directory is held in memory while it is read).
    max_archive_members: int = 100_000
    #: One zip member may expand at most this many times its compressed size, and everything
    #: expanded from one archive on disk at most this many times the archive's size.
    max_ratio: int = 200
    #: One member larger than this is not read (members are held in memory to be hashed).
    max_member_bytes: int = 512 * MiB

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < (0 if name == "max_depth" else 1):
                raise ValueError(f"{name} must be at least {0 if name == 'max_depth' else 1}")


#: The `hashwarden scan` flag that sets each limit, named in every record a limit cuts.
LIMIT_FLAGS = {name: "--" + name.replace("_", "-") for name in Limits.__dataclass_fields__}


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
