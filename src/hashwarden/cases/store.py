"""The case hash store: for every file a scan saw, its hashes, path, size and status under the
scan's case; never its content.

    STORE/                 created 0700: only its owner reads it (docs/retro.md)
      cases.db             SQLite (through `_sql.Database`): cases, scans, files, hashes,
                           what retro-hunts found and how far each got, per bank
      log.jsonl            hash-chained log: cases kept, deleted, hunted (`_log.StoreLog`)
      columns/<scan id>/   the md5, sha1, sha256 and PDQ (with variants) of a kept scan's
                           files as arrays, what a retro-hunt reads (`cases.columns`)

A scan's files are written in batches as it goes (`CaseWriter`); the scan's row gets its
`kept` time only when the scan ends, and readers see kept scans only, so a retro-hunt never
reads half a scan. Every fingerprint is one row of `hashes` (kind, variant, value), indexed by
(kind, value): what `files` and `hashes` read, and how the kinds that have no columns (P2P
identifiers) are matched, by a join.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashwarden._sql import Database, is_postgres_location
from hashwarden._time import utc_now
from hashwarden.cases import columns
from hashwarden.cases._log import StoreLog
from hashwarden.errors import DataError, NotFoundError, UsageError

if TYPE_CHECKING:
    from hashwarden._types import FileRecord
    from hashwarden.signals import ContentHashes

__all__ = [
    "BATCH",
    "ENV",
    "MIGRATIONS",
    "CaseStore",
    "CaseSummary",
    "CaseWriter",
    "StoredHash",
    "check_case_name",
    "store_location",
]

#: The environment variable naming the store (as `--cases DIR` does).
ENV = "HASHWARDEN_CASES"
#: Files written per transaction (and per column segment) while a scan goes.
BATCH = 10_000
DB_NAME = "cases.db"
#: The folder of the kept scans' columns, in the store.
COLUMNS = "columns"
#: SQLite page cache of a store connection, KiB.
CACHE_KIB = 262_144

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0100-cases",
        """
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL
        );
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            started TEXT NOT NULL,
            kept TEXT,
            bank_id TEXT,
            bank_version INTEGER NOT NULL DEFAULT 0,
            channel TEXT,
            region TEXT,
            record TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX scans_case ON scans(case_id);
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            size INTEGER,
            status TEXT NOT NULL,
            media_type TEXT,
            pdq_quality INTEGER,
            matched TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX files_scan ON files(scan_id);
        CREATE TABLE hashes (
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            variant TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL
        );
        CREATE INDEX hashes_value ON hashes(kind, value);
        CREATE INDEX hashes_file ON hashes(file_id);
        CREATE INDEX hashes_kind_file ON hashes(kind, file_id);
        CREATE TABLE found (
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            entry_id INTEGER NOT NULL,
            bank_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (bank_id, file_id, entry_id)
        );
        CREATE TABLE retro_state (
            bank_id TEXT NOT NULL,
            case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            PRIMARY KEY (bank_id, case_id)
        )
        """,
    ),
]


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
    """A case name: 1 to 200 printable characters."""
    text = name.strip()
    if not text or len(text) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"a case name is 1 to 200 printable characters, not {name[:80]!r}")
    return text


@dataclass(frozen=True)
class StoredHash:
    """One fingerprint of a stored file, as a retro-hunt reads it."""

    file_id: int
    kind: str
    variant: str
    value: str


@dataclass
class CaseSummary:
    """A case as `cases list` and `cases show` give it."""

    name: str
    files: int
    scans: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.name,
            "files": self.files,
            "first_scan": min((s["started"] for s in self.scans), default=None),
            "last_scan": max((s["kept"] for s in self.scans), default=None),
            "statuses": self.statuses,
            "scans": self.scans,
        }


class CaseStore:
    """A folder holding the cases' hashes (see the module's docstring); close it after use."""

    def __init__(self, root: Path, db: Database) -> None:
        self.root = root
        self.db = db
        self.log = StoreLog(root / "log.jsonl")

    @classmethod
    def open(cls, root: Path, *, create: bool = False, readonly: bool = False) -> CaseStore:
        """The store at `root`; NotFoundError when there is none (unless `create`: then a new,
        empty one readable by its owner only)."""
        if root.exists() and not root.is_dir():
            raise UsageError(f"the case store {root} is not a folder")
        if not (root / DB_NAME).exists():
            if not create:
                raise NotFoundError(f"no case store at {root} (a scan keeps one)")
            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(root, 0o700)
                os.close(os.open(root / DB_NAME, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as exc:
                raise UsageError(
                    f"cannot make the case store {root} ({exc.strerror or exc}): give another"
                    " with --cases DIR, or keep no hashes with --no-keep-hashes"
                ) from exc
        try:
            # No WAL: its shared memory does not work over network file systems, where the
            # workers of a cluster read the store (docs/scale.md).
            db = Database.sqlite(root / DB_NAME, readonly=readonly, wal=False)
            # Inserts land all over the (kind, value) index: a larger page cache than
            # SQLite's 2 MiB keeps its pages in memory (docs/retro.md, measured figures).
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if readonly:
                if "0100-cases" not in db.applied_migrations():
                    raise DataError(f"{root} is not a case store")
            else:
                db.migrate(MIGRATIONS)
        except sqlite3.Error as exc:
            raise DataError(f"{root / DB_NAME} is not a readable case store ({exc})") from exc
        return cls(root, db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cases ------------------------------------------------------------------------------
    def case_names(self) -> list[str]:
        return [str(r[0]) for r in self.db.query("SELECT name FROM cases ORDER BY name")]

    def case_id(self, name: str) -> int:
        row = self.db.execute("SELECT id FROM cases WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no case {name!r} in the case store {self.root}")
        return int(row[0])

    def summary(self, name: str) -> CaseSummary:
        case_id = self.case_id(name)
        scans = [
            {
                "scan": int(r[0]),
                "started": r[1],
                "kept": r[2],
                "bank_id": r[3],
                "bank_version": int(r[4]),
                "channel": r[5],
                "region": r[6],
                "files": int(r[7]),
                "inputs": json.loads(r[8]).get("inputs", []),
            }
            for r in self.db.query(
                "SELECT s.id, s.started, s.kept, s.bank_id, s.bank_version, s.channel, s.region,"
                " (SELECT COUNT(*) FROM files f WHERE f.scan_id = s.id), s.record"
                " FROM scans s WHERE s.case_id = ? AND s.kept IS NOT NULL ORDER BY s.id",
                (case_id,),
            )
        ]
        statuses = {
            str(status): int(n)
            for status, n in self.db.query(
                "SELECT f.status, COUNT(*) FROM files f JOIN scans s ON s.id = f.scan_id"
                " WHERE s.case_id = ? AND s.kept IS NOT NULL GROUP BY f.status ORDER BY f.status",
                (case_id,),
            )
        }
        return CaseSummary(name, sum(s["files"] for s in scans), scans, statuses)

    def writer(
        self,
        name: str,
        *,
        channel: str | None = None,
        region: str | None = None,
        actor: str = "cli",
    ) -> CaseWriter:
        return CaseWriter(
            self,
            check_case_name(name),
            channel=channel,
            region=region,
            actor=actor,
        )

    def delete(self, name: str, *, actor: str = "cli", reason: str | None = None) -> CaseSummary:
        """Remove a case's hashes and what retro-hunts found in it; the store's log keeps who
        deleted what and why (the caller records it in the bank's audit log too)."""
        summary = self.summary(name)
        detail: dict[str, Any] = {"case": name, "files": summary.files, "scans": len(summary.scans)}
        if reason:
            detail["reason"] = reason
        case_id = self.case_id(name)
        scans = [
            int(r[0]) for r in self.db.query("SELECT id FROM scans WHERE case_id = ?", (case_id,))
        ]
        with self.db.transaction() as db:
            db.execute("DELETE FROM cases WHERE id = ?", (case_id,))
            self.log.record(actor, "case.delete", detail)
        for scan in scans:
            for folder in (self.columns(scan), self.columns(scan, partial=True)):
                shutil.rmtree(folder, ignore_errors=True)
        return summary

    # -- what a retro-hunt reads --------------------------------------------------------------
    def columns(self, scan_id: int, *, partial: bool = False) -> Path:
        """The folder of a scan's columns (`partial`: while the scan runs)."""
        return self.root / COLUMNS / (f"{scan_id}.partial" if partial else str(scan_id))

    def column_folders(self, case_ids: Sequence[int], lo: int, hi: int) -> list[Path]:
        """The column folders of the kept scans of these cases holding files `lo..hi`;
        DataError when one has none (a store from before the columns, not built yet)."""
        if not case_ids:
            return []
        marks = ",".join("?" * len(case_ids))
        scans = [
            int(r[0])
            for r in self.db.query(
                "SELECT s.id FROM scans s WHERE s.kept IS NOT NULL"
                f" AND s.case_id IN ({marks}) AND s.id IN"
                " (SELECT DISTINCT f.scan_id FROM files f WHERE f.id BETWEEN ? AND ?)"
                " ORDER BY s.id",
                (*case_ids, lo, hi),
            )
        ]
        folders = [self.columns(scan) for scan in scans]
        missing = [scan for scan, folder in zip(scans, folders, strict=True) if not folder.is_dir()]
        if missing:
            raise DataError(
                f"the case store {self.root} has no columns for scan {missing[0]}: a retro-hunt"
                " (not on a cluster) builds them"
            )
        return folders

    def build_columns(self, case_ids: Sequence[int]) -> int:
        """Build the columns of the kept scans of these cases that have none (a store written
        before columns existed) from their `hashes` rows, in batches; the scans built."""
        if not case_ids:
            return 0
        marks = ",".join("?" * len(case_ids))
        scans = [
            int(r[0])
            for r in self.db.query(
                f"SELECT id FROM scans WHERE kept IS NOT NULL AND case_id IN ({marks}) ORDER BY id",
                tuple(case_ids),
            )
        ]
        built = 0
        for scan in scans:
            if self.columns(scan).is_dir():
                continue
            partial = self.columns(scan, partial=True)
            shutil.rmtree(partial, ignore_errors=True)
            _make_folder(partial)
            row = self.db.execute(
                "SELECT MIN(id), MAX(id) FROM files WHERE scan_id = ?", (scan,)
            ).fetchone()
            if row is not None and row[0] is not None:
                for start in range(int(row[0]), int(row[1]) + 1, BATCH):
                    rows = self.db.query(
                        "SELECT h.file_id, h.kind, h.variant, h.value, f.pdq_quality"
                        " FROM hashes h JOIN files f ON f.id = h.file_id"
                        " WHERE f.scan_id = ? AND h.file_id BETWEEN ? AND ?"
                        " ORDER BY h.file_id, h.kind, h.variant",
                        (scan, start, start + BATCH - 1),
                    )
                    columns.write_segment(partial, *columns.segment_arrays(rows))
            if self.columns(scan).is_dir():  # another hunt built them meanwhile
                shutil.rmtree(partial, ignore_errors=True)
                continue
            _keep_columns(partial, self.columns(scan))
            built += 1
        return built

    def file_range(self, case_ids: Sequence[int]) -> tuple[int, int]:
        """(lowest, highest) id of the kept files of these cases; (0, -1) when none."""
        if not case_ids:
            return 0, -1
        marks = ",".join("?" * len(case_ids))
        row = self.db.execute(
            "SELECT MIN(f.id), MAX(f.id) FROM files f JOIN scans s ON s.id = f.scan_id"
            f" WHERE s.kept IS NOT NULL AND s.case_id IN ({marks})",
            tuple(case_ids),
        ).fetchone()
        return (0, -1) if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def hashes(
        self, kind: str, values: Sequence[str], case_ids: Sequence[int], lo: int, hi: int
    ) -> list[StoredHash]:
        """The stored hashes of a kind equal to one of `values`, of files `lo..hi` (ids) of
        these cases (kept scans only)."""
        found: list[StoredHash] = []
        cases = ",".join("?" * len(case_ids))
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for file_id, variant, value in self.db.query(
                "SELECT h.file_id, h.variant, h.value FROM hashes h"
                " JOIN files f ON f.id = h.file_id JOIN scans s ON s.id = f.scan_id"
                # (`+ 0`: the range is a filter here; the (kind, value) index finds the rows)
                f" WHERE h.kind = ? AND h.value IN ({marks}) AND h.file_id + 0 BETWEEN ? AND ?"
                f" AND s.kept IS NOT NULL AND s.case_id IN ({cases})",
                (kind, *chunk, lo, hi, *case_ids),
            ):
                found.append(StoredHash(int(file_id), kind, str(variant), str(value)))
        return found

    def files(self, file_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """What the store holds of these files: case, path, size, status, media type, the
        entries matched when scanned, and every hash (`kind` or `pdq:<variant>` to value)."""
        out: dict[int, dict[str, Any]] = {}
        ids = sorted(set(file_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for fid, case, path, size, status, media, matched, scan in self.db.query(
                "SELECT f.id, c.name, f.path, f.size, f.status, f.media_type, f.matched, s.id"
                " FROM files f JOIN scans s ON s.id = f.scan_id JOIN cases c ON c.id = s.case_id"
                f" WHERE f.id IN ({marks})",
                chunk,
            ):
                out[int(fid)] = {
                    "case": case,
                    "scan": int(scan),
                    "path": path,
                    "size": size,
                    "status": status,
                    "media_type": media,
                    "matched_when_scanned": [int(e) for e in matched.split(",") if e],
                    "hashes": {},
                }
            for fid, kind, variant, value in self.db.query(
                f"SELECT file_id, kind, variant, value FROM hashes WHERE file_id IN ({marks})"
                " ORDER BY file_id, kind, variant",
                chunk,
            ):
                key = f"{kind}:{variant}" if variant else kind
                out[int(fid)]["hashes"][key] = value
        return out

    def scan_origin(self, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Per case: the banks its scans matched against ({bank id: lowest version}), and the
        channel and region of its last scan (for statistics)."""
        out: dict[int, dict[str, Any]] = {
            c: {"banks": {}, "channel": None, "region": None} for c in case_ids
        }
        marks = ",".join("?" * len(case_ids))
        for case_id, bank_id, version, channel, region in self.db.query(
            "SELECT case_id, bank_id, bank_version, channel, region FROM scans"
            f" WHERE kept IS NOT NULL AND case_id IN ({marks}) ORDER BY id",
            tuple(case_ids),
        ):
            origin = out[int(case_id)]
            if bank_id:
                banks = origin["banks"]
                banks[bank_id] = min(int(version), banks.get(bank_id, int(version)))
            origin["channel"], origin["region"] = channel, region
        return out

    # -- what retro-hunts found, and how far they got ------------------------------------------
    def already_found(self, bank_id: str, file_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(file, entry) pairs of these files a retro-hunt with this bank reported before."""
        found: set[tuple[int, int]] = set()
        ids = sorted(set(file_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                (int(f), int(e))
                for f, e in self.db.query(
                    f"SELECT file_id, entry_id FROM found WHERE bank_id = ? AND file_id IN ({marks})",
                    (bank_id, *chunk),
                )
            )
        return found

    def retro_versions(self, bank_id: str) -> dict[int, int]:
        """Per case id: the bank version the last retro-hunt with this bank reached."""
        return {
            int(c): int(v)
            for c, v in self.db.query(
                "SELECT case_id, version FROM retro_state WHERE bank_id = ?", (bank_id,)
            )
        }

    def record_hunt(
        self,
        bank_id: str,
        version: int,
        case_ids: Sequence[int],
        found: Sequence[tuple[int, int]],
        *,
        actor: str = "cli",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Remember, in one transaction, the (file, entry) pairs a hunt reported and the bank
        version it reached for these cases, so the next hunt reports only what is newer."""
        at = utc_now()
        with self.db.transaction() as db:
            db.executemany(
                "INSERT INTO found(file_id, entry_id, bank_id, version, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(f, e, bank_id, version, at) for f, e in found],
            )
            db.executemany(
                "INSERT INTO retro_state(bank_id, case_id, version) VALUES (?, ?, ?)"
                " ON CONFLICT (bank_id, case_id) DO UPDATE SET version = excluded.version",
                [(bank_id, c, version) for c in case_ids],
            )
            self.log.record(
                actor,
                "retro.hunt",
                {"bank": bank_id, "version": version, "found": len(found), **(detail or {})},
            )


def _bank_of(fingerprint: str | None) -> tuple[str | None, int]:
    """(bank id, audit sequence) from a bank fingerprint `id:seq:head`; (None, 0) unknown."""
    parts = str(fingerprint or "").split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return None, 0
    return parts[0], int(parts[1])


class CaseWriter:
    """One scan's records, written to the case as they come (`add`), kept at `close`."""

    def __init__(
        self,
        store: CaseStore,
        case: str,
        *,
        channel: str | None,
        region: str | None,
        actor: str,
    ) -> None:
        self.store, self.case, self.actor = store, case, actor
        db = store.db
        with db.transaction():
            db.execute(
                "INSERT INTO cases(name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (case, utc_now()),
            )
            case_id = store.case_id(case)
            row = db.execute(
                "INSERT INTO scans(case_id, started, channel, region) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (case_id, utc_now(), channel, region),
            ).fetchone()
        self.scan_id = int(row[0])
        self.rows = 0
        self._columns = store.columns(self.scan_id, partial=True)
        self._pending: list[tuple[FileRecord, ContentHashes | None]] = []

    def add(self, record: FileRecord, hashes: ContentHashes | None) -> None:
        """Keep one file's record: its hashes (all kinds, PDQ variants), path, size, status."""
        self._pending.append((record, hashes))
        self.rows += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        kept: list[tuple[int, str, str, str, int | None]] = []
        with self.store.db.transaction() as db:
            for record, hashes in self._pending:
                row = db.execute(
                    "INSERT INTO files(scan_id, path, size, status, media_type, pdq_quality,"
                    " matched) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        self.scan_id,
                        record.path,
                        record.size,
                        record.status,
                        record.media_type,
                        record.pdq_quality,
                        ",".join(str(e) for e in sorted({m.entry for m in record.matches})),
                    ),
                ).fetchone()
                file_id = int(row[0])
                found = _fingerprints(record, hashes)
                db.executemany(
                    "INSERT INTO hashes(file_id, kind, variant, value) VALUES (?, ?, ?, ?)",
                    [(file_id, k, v, value) for k, v, value in found],
                )
                kept += [(file_id, k, v, value, record.pdq_quality) for k, v, value in found]
        _make_folder(self._columns)
        columns.write_segment(self._columns, *columns.segment_arrays(kept))
        self._pending.clear()

    def close(self, scan: dict[str, Any]) -> int:
        """Keep the scan (`scan`: its record, as the report has it, naming the bank version it
        matched against); logged in the store's log. Returns the files kept."""
        self._flush()
        bank_id, version = _bank_of(scan.get("bank_fingerprint"))
        keep = ("version", "bank", "inputs", "threshold", "pdq_mode", "started", "finished")
        record = {k: scan[k] for k in keep if k in scan} | {"counts": scan.get("counts", {})}
        # The columns are whole before the scan's row says it is kept.
        _make_folder(self._columns)
        _keep_columns(self._columns, self.store.columns(self.scan_id))
        with self.store.db.transaction() as db:
            db.execute(
                "UPDATE scans SET kept = ?, record = ?, bank_id = ?, bank_version = ? WHERE id = ?",
                (utc_now(), json.dumps(record, sort_keys=True), bank_id, version, self.scan_id),
            )
            self.store.log.record(
                self.actor,
                "case.keep",
                {"case": self.case, "scan": self.scan_id, "files": self.rows},
            )
        return self.rows

    def abort(self) -> None:
        """Drop what was written (the scan did not finish)."""
        self._pending.clear()
        with self.store.db.transaction() as db:
            db.execute("DELETE FROM scans WHERE id = ?", (self.scan_id,))
        shutil.rmtree(self._columns, ignore_errors=True)


def _make_folder(folder: Path) -> None:
    """A folder of the store (readable by its owner only, as the store is)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write the case store's columns at {folder}: {exc}") from exc


def _keep_columns(partial: Path, kept: Path) -> None:
    """Rename a scan's columns into place: whole, or not there."""
    try:
        os.replace(partial, kept)
    except OSError as exc:
        raise DataError(f"cannot write the case store's columns at {kept}: {exc}") from exc


def _fingerprints(record: FileRecord, hashes: ContentHashes | None) -> list[tuple[str, str, str]]:
    """(kind, variant, value) of every fingerprint of a file."""
    found = [
        (kind, "", value)
        for kind in ("md5", "sha1", "sha256", "pdq", "vpdq")
        if (value := getattr(record, kind))
    ]
    if hashes is not None:
        found += [("pdq", name, value) for name, value in sorted(hashes.pdq_variants.items())]
        found += [(kind, "", value) for kind, value in sorted(hashes.extra.items())]
    return found
