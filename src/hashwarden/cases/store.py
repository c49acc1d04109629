"""The case hash store: for every file a scan saw, its hashes, path, size and status under the
scan's case; never its content.

Laid out so it scales and any Parquet reader (pyarrow, DuckDB, Spark) can query it:

    STORE/                               created 0700: only its owner reads it (docs/retro.md)
      log.jsonl                          hash-chained log: cases kept, deleted, hunted
      retro-state.json                   per bank and case: the bank version last hunted
      case=<name, URI-quoted>/           one folder per case (Hive-style partition)
        scan-<time>-<id>.parquet         one per scan, a row per file; never changed once written
        found-<time>-<id>.parquet        what a retro-hunt found: (part, row, entry)

A part is written as the scan goes (`CaseWriter`: row groups of 64Ki records, zstd) under a
hidden name, and renamed only when the scan ends, so a reader never sees half a scan. Hashes
are kept as bytes (fixed-size binary columns), which is what makes a record about 150 bytes
(with PDQ variants about 420): docs/bench/retro.md has the measured figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq

from hashwarden._sql import is_postgres_location
from hashwarden._time import utc_now
from hashwarden.cases._log import StoreLog, locked
from hashwarden.errors import ConflictError, DataError, NotFoundError, UsageError

if TYPE_CHECKING:
    from hashwarden.scan import FileRecord
    from hashwarden.signals import ContentHashes

__all__ = [
    "ENV",
    "EXACT_COLUMNS",
    "FORMAT",
    "ROW_GROUP",
    "SCHEMA",
    "CaseStore",
    "CaseSummary",
    "CaseWriter",
    "Part",
    "check_case_name",
    "store_location",
]

#: The environment variable naming the store (as `--cases DIR` does).
ENV = "HASHWARDEN_CASES"
FORMAT = "hashwarden-case-hashes"
_VERSION = 1
#: Records per row group: the unit a retro-hunt reads and a cluster task takes.
ROW_GROUP = 65_536
#: The cryptographic hashes, kept as bytes of these lengths.
EXACT_COLUMNS = {"md5": 16, "sha1": 20, "sha256": 32}
_STATE = "retro-state.json"
_PREFIX = "case="

VARIANT = pa.struct([("orientation", pa.string()), ("pdq", pa.binary(32))])
OTHER = pa.struct([("kind", pa.string()), ("value", pa.string())])
SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("status", pa.string()),
        ("media_type", pa.string()),
        ("md5", pa.binary(16)),
        ("sha1", pa.binary(20)),
        ("sha256", pa.binary(32)),
        ("pdq", pa.binary(32)),
        ("pdq_quality", pa.int16()),
        #: PDQ of the image turned, mirrored, trimmed, and of further frames (as the scan
        #: matched them), by name.
        ("variants", pa.list_(VARIANT)),
        #: Every other fingerprint: P2P identifiers (ed2k, tth, btih...), vPDQ of a video.
        ("other", pa.list_(OTHER)),
        #: The bank entries the file matched when it was scanned.
        ("matched", pa.list_(pa.int64())),
    ]
)
#: What a part's metadata keeps of the scan's record.
_SCAN_KEYS = (
    "tool",
    "version",
    "bank",
    "bank_fingerprint",
    "inputs",
    "threshold",
    "pdq_mode",
    "started",
    "finished",
    "counts",
    "complete",
)


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def store_location(bank: str | Path, given: Path | None = None) -> Path:
    """Where a bank's case store is: `given` (`--cases DIR`), else $HASHWARDEN_CASES, else
    beside a SQLite bank (`BANK.cases/`), else, for a PostgreSQL bank, the user's data folder
    (`~/.local/share/hashwarden/cases`)."""
    if given is not None:
        return given
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    text = str(bank)
    if is_postgres_location(text):
        return _data_home() / "hashwarden" / "cases"
    path = Path(text)
    return path.with_name(path.name + ".cases")


def check_case_name(name: str) -> str:
    """A case name: 1 to 200 printable characters (any, quoted in the folder name)."""
    text = name.strip()
    if not text or len(text) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"a case name is 1 to 200 printable characters, not {name[:80]!r}")
    return text


def _new_name(kind: str) -> str:
    stamp = utc_now().replace(":", "").replace("-", "").replace(".", "")
    return f"{kind}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Part:
    """One scan's records in a case: a Parquet file and what its footer says of the scan."""

    case: str
    path: Path
    rows: int
    row_groups: int
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def scan(self) -> dict[str, Any]:
        return dict(self.meta.get("scan", {}))

    @property
    def bank(self) -> tuple[str | None, int]:
        """(bank id, audit sequence) of the bank the scan matched against, from its
        fingerprint (`id:seq:head`); (None, 0) when unknown."""
        parts = str(self.scan.get("bank_fingerprint") or "").split(":")
        if len(parts) < 2 or not parts[1].isdigit():
            return None, 0
        return parts[0], int(parts[1])

    @classmethod
    def read(cls, case: str, path: Path) -> Part:
        try:
            metadata = pq.read_metadata(path)
            meta = json.loads((metadata.metadata or {}).get(b"hashwarden", b"{}"))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DataError(f"{path} is not a readable part of the case store ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise DataError(f"{path} is not a part of a hashwarden case store")
        return cls(case, path, metadata.num_rows, metadata.num_row_groups, meta)


@dataclass
class CaseSummary:
    """A case as `cases list` and `cases show` give it."""

    name: str
    folder: Path
    parts: list[Part] = field(default_factory=list)
    #: Files by their status when scanned (filled in by `CaseStore.summary(statuses=True)`).
    statuses: dict[str, int] = field(default_factory=dict)
    #: Per part: the SHA-256 the store's log recorded when the part was kept.
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def bytes(self) -> int:
        return sum(p.path.stat().st_size for p in self.parts if p.path.exists())

    def to_json(self) -> dict[str, Any]:
        scans = [p.scan for p in self.parts]
        return {
            "case": self.name,
            "folder": str(self.folder),
            "files": self.files,
            "bytes": self.bytes,
            "first_scan": min((s.get("started") or "" for s in scans), default=None),
            "last_scan": max((s.get("finished") or "" for s in scans), default=None),
            "statuses": self.statuses,
            "parts": [
                {
                    "part": p.name,
                    "files": p.rows,
                    "bytes": p.path.stat().st_size,
                    "kept": p.meta.get("kept"),
                    "sha256": self.digests.get(p.name),
                    "scan": p.scan,
                }
                for p in self.parts
            ],
        }


class CaseStore:
    """A folder of cases' hashes (see the module's docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = StoreLog(root / "log.jsonl")

    @classmethod
    def open(cls, root: Path, *, create: bool = False) -> CaseStore:
        """The store at `root`; NotFoundError when there is none (unless `create`: then a new,
        empty one readable by its owner only)."""
        if root.exists() and not root.is_dir():
            raise UsageError(f"the case store {root} is not a folder")
        if not root.exists():
            if not create:
                raise NotFoundError(f"no case store at {root} (a scan with --case makes one)")
            root.mkdir(mode=0o700, parents=True)
            os.chmod(root, 0o700)
        return cls(root)

    # -- cases ------------------------------------------------------------------------------
    def folder(self, case: str) -> Path:
        return self.root / (_PREFIX + quote(check_case_name(case), safe=""))

    def case_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            unquote(p.name[len(_PREFIX) :])
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith(_PREFIX)
        )

    def parts(self, case: str) -> list[Part]:
        """The case's scans, oldest first; NotFoundError when the store has no such case."""
        folder = self.folder(case)
        if not folder.is_dir():
            raise NotFoundError(f"no case {case!r} in the case store {self.root}")
        return [Part.read(case, path) for path in sorted(folder.glob("scan-*.parquet"))]

    def summary(self, case: str, *, statuses: bool = False) -> CaseSummary:
        summary = CaseSummary(case, self.folder(case), self.parts(case))
        summary.digests = self.kept_digests(case)
        if statuses:
            counts: Counter[str] = Counter()
            for part in summary.parts:
                column = pq.read_table(part.path, columns=["status"]).column("status")
                for row in column.value_counts().to_pylist():
                    counts[str(row["values"])] += int(row["counts"])
            summary.statuses = dict(sorted(counts.items()))
        return summary

    def kept_digests(self, case: str) -> dict[str, str]:
        """Per part of the case: the SHA-256 recorded in the log when it was kept."""
        return {
            str(e.detail.get("part")): str(e.detail.get("sha256"))
            for e in self.log.events()
            if e.action == "case.keep" and e.detail.get("case") == case
        }

    def altered_parts(self, case: str) -> list[str]:
        """Parts of the case whose bytes differ from what the log recorded when they were kept
        (or that the log does not know): evidence that was changed or slipped in."""
        digests = self.kept_digests(case)
        return [p.name for p in self.parts(case) if digests.get(p.name) != _file_sha256(p.path)]

    def writer(self, case: str, *, actor: str = "cli") -> CaseWriter:
        return CaseWriter(self, check_case_name(case), actor=actor)

    def delete(self, case: str, *, actor: str = "cli", reason: str | None = None) -> CaseSummary:
        """Remove a case's hashes and what retro-hunts found in it; the store's log keeps who
        deleted what and why (the caller records it in the bank's audit log too)."""
        summary = self.summary(case)
        detail: dict[str, Any] = {
            "case": case,
            "files": summary.files,
            "bytes": summary.bytes,
            "parts": [{"part": p.name, "sha256": p.meta.get("sha256")} for p in summary.parts],
        }
        if reason:
            detail["reason"] = reason
        trash = self.root / f".deleting-{uuid.uuid4().hex}"
        summary.folder.rename(trash)  # gone at once for readers; removed below
        try:
            self.log.record(actor, "case.delete", detail)
        except BaseException:
            trash.rename(summary.folder)
            raise
        shutil.rmtree(trash)
        with locked(self.root / (_STATE + ".lock")):
            state = self._read_state()
            for cases in state.values():
                cases.pop(case, None)
            self._write_state(state)
        return summary

    # -- what retro-hunts found, and how far they got ----------------------------------------
    def found(self, case: str) -> Iterator[tuple[str, int, int]]:
        """(part, row, entry) of every match a retro-hunt reported in the case."""
        for path in sorted(self.folder(case).glob("found-*.parquet")):
            table = pq.read_table(path, columns=["part", "row", "entry"])
            yield from zip(
                table.column("part").to_pylist(),
                table.column("row").to_pylist(),
                table.column("entry").to_pylist(),
                strict=True,
            )

    def add_found(self, case: str, rows: list[tuple[str, int, int]], *, version: int) -> None:
        """Remember matches a retro-hunt reported, so a later hunt does not report them again."""
        if not rows:
            return
        table = pa.table(
            {
                "part": pa.array([r[0] for r in rows], pa.string()),
                "row": pa.array([r[1] for r in rows], pa.int64()),
                "entry": pa.array([r[2] for r in rows], pa.int64()),
                "version": pa.array([version] * len(rows), pa.int64()),
            }
        )
        folder = self.folder(case)
        name = _new_name("found")
        partial = folder / f".{name}.partial"
        pq.write_table(table, partial, compression="zstd")
        os.chmod(partial, 0o600)
        os.replace(partial, folder / name)

    def retro_versions(self, bank_id: str) -> dict[str, int]:
        """Per case: the bank version the last retro-hunt with this bank reached."""
        return dict(self._read_state().get(bank_id, {}))

    def set_retro_versions(self, bank_id: str, versions: dict[str, int]) -> None:
        with locked(self.root / (_STATE + ".lock")):
            state = self._read_state()
            state.setdefault(bank_id, {}).update(versions)
            self._write_state(state)

    def _read_state(self) -> dict[str, dict[str, int]]:
        path = self.root / _STATE
        if not path.exists():
            return {}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"{path} is not readable ({exc})") from exc
        return {str(b): {str(c): int(v) for c, v in cases.items()} for b, cases in state.items()}

    def _write_state(self, state: dict[str, dict[str, int]]) -> None:
        path = self.root / _STATE
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=1, sort_keys=True)
        os.replace(partial, path)


def _bytes(value: str | None, size: int) -> bytes | None:
    if not value:
        return None
    raw = bytes.fromhex(value)
    return raw if len(raw) == size else None


class CaseWriter:
    """One scan's records, written to the case as they come (`add`), kept at `close`."""

    def __init__(self, store: CaseStore, case: str, *, actor: str = "cli") -> None:
        self.store, self.case, self.actor = store, case, actor
        self.folder = store.folder(case)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.name = _new_name("scan")
        self._partial = self.folder / f".{self.name}.partial"
        if self._partial.exists():
            raise ConflictError(f"{self._partial} exists already")
        self._writer: pq.ParquetWriter | None = None
        self._columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
        self.rows = 0

    def add(self, record: FileRecord, hashes: ContentHashes | None) -> None:
        """Keep one file's record: its hashes (all kinds, PDQ variants), path, size, status."""
        c = self._columns
        c["path"].append(record.path)
        c["size"].append(record.size)
        c["status"].append(record.status)
        c["media_type"].append(record.media_type)
        for kind, size in EXACT_COLUMNS.items():
            c[kind].append(_bytes(getattr(record, kind), size))
        c["pdq"].append(_bytes(record.pdq, 32))
        c["pdq_quality"].append(record.pdq_quality)
        variants = hashes.pdq_variants if hashes is not None else {}
        c["variants"].append(
            [{"orientation": k, "pdq": bytes.fromhex(v)} for k, v in variants.items()]
        )
        other: dict[str, str] = {}
        if hashes is not None:
            other.update(hashes.extra)
            if hashes.vpdq is not None:
                other["vpdq"] = hashes.vpdq
        elif record.vpdq is not None:
            other["vpdq"] = record.vpdq
        c["other"].append([{"kind": k, "value": v} for k, v in sorted(other.items())])
        c["matched"].append(sorted({m.entry for m in record.matches}))
        self.rows += 1
        if len(c["path"]) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._partial, SCHEMA, compression="zstd")
            os.chmod(self._partial, 0o600)
        table = pa.table(
            {name: pa.array(values, SCHEMA.field(name).type) for name, values in self._columns.items()},
            schema=SCHEMA,
        )
        self._writer.write_table(table, row_group_size=ROW_GROUP)
        for values in self._columns.values():
            values.clear()

    def close(self, scan: dict[str, Any], **extra: Any) -> Part:
        """Keep the part: its footer says which scan made it (`scan`: the scan's record, and
        `extra`, e.g. its channel and region); logged in the store's log."""
        self._flush()
        assert self._writer is not None
        meta = {
            "format": FORMAT,
            "version": _VERSION,
            "case": self.case,
            "kept": utc_now(),
            "scan": {k: scan[k] for k in _SCAN_KEYS if k in scan} | extra,
        }
        self._writer.add_key_value_metadata({"hashwarden": json.dumps(meta)})
        self._writer.close()
        final = self.folder / self.name
        os.replace(self._partial, final)
        digest = _file_sha256(final)
        self.store.log.record(
            self.actor,
            "case.keep",
            {
                "case": self.case,
                "part": self.name,
                "files": self.rows,
                "sha256": digest,
                "bank": meta["scan"].get("bank_fingerprint"),
            },
        )
        return Part.read(self.case, final)

    def abort(self) -> None:
        """Drop what was written (the scan did not finish)."""
        if self._writer is not None:
            self._writer.close()
        self._partial.unlink(missing_ok=True)
        if not any(self.folder.iterdir()):
            self.folder.rmdir()
