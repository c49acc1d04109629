"""The SQLite hash bank: the embedded default store.

One file, WAL journal, every change in one transaction together with its audit event, so an
import either lands whole or not at all. The audit log is a SHA-256 hash chain; each event also
carries additive digests (sums mod 2**256 of the digests of entries, and of rows of the guarded
tables, added and removed), so `verify` can tell both a broken chain and entries, keys, trust,
named banks, rules or decisions changed behind the log's back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwarden.bank.base import (
    AddResult,
    AuditEvent,
    BankStats,
    ChangeResult,
    Entry,
    NewEntry,
    VerifyReport,
    entry_digest,
)
from hashwarden.bank.categories import CATEGORIES, most_severe
from hashwarden.bank.guarded import GUARDED, Guarded, row_digest
from hashwarden.bank.schema import MIGRATIONS, SCHEMA_FAMILY
from hashwarden.errors import ConflictError, DataError, NotFoundError, UsageError
from hashwarden.signals.base import Signal

__all__ = ["GENESIS", "ORIGIN_KEY", "SqliteBank", "utc_now"]

GENESIS = "0" * 64
_MOD = 2**256
_BATCH = 900  # stays under SQLite's bound-parameter limit
#: In an entry's extra: the peer bank (its `bank_id`) that owns an entry received in a bundle.
#: Only that peer's bundles may change or remove the entry; the bank does not publish it again.
ORIGIN_KEY = "hashwarden:origin"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _event_hash(prev: str, seq: int, at: str, actor: str, action: str, detail: str) -> str:
    text = json.dumps([seq, at, actor, action, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


def _kg_digest(kind: str, value: str, set_name: str) -> int:
    return int(hashlib.sha256(f"{set_name}\x00{kind}\x00{value}".encode()).hexdigest(), 16)


def _batched(items: Iterable[Signal], size: int) -> Iterator[list[Signal]]:
    batch: list[Signal] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _chunks(items: list[str], size: int = _BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Merge:
    """What folding one record into an entry did: its category outcome (updated, kept,
    conflicting), whether the entry gained signals or fields, and the digests added/removed."""

    outcome: str
    gained: bool
    plus: int = 0
    minus: int = 0


@dataclass(slots=True)
class _Tracker:
    """An open `tracked` block: which rows it watches, and their digest sum when last settled."""

    guard: Guarded
    where: str
    params: tuple[Any, ...]
    before: int


class SqliteBank:
    """A hash bank in one SQLite file. Use `create` or `open`, then as a context manager.

    `PostgresBank` runs this same logic on PostgreSQL through a connection adapter, so every
    SQL statement here stays portable (RETURNING, ON CONFLICT, `?` placeholders).
    """

    def __init__(self, location: str, conn: Any, readonly: bool) -> None:
        #: Where the bank is, for messages and reports (a path, or a DSN without password).
        self.location = location
        self.path = Path(location)
        self.readonly = readonly
        self._conn = conn
        #: In a write transaction: per guarded table, the (plus, minus) digest sums of its
        #: tracked changes that the next audit event will carry. None outside one.
        self._pending: dict[str, tuple[int, int]] | None = None
        #: The `tracked` blocks open in this transaction, settled by each `record`.
        self._trackers: list[_Tracker] = []

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path) -> SqliteBank:
        target = Path(path)
        if target.exists():
            raise ConflictError(f"{target} already exists; a new bank needs a new file")
        if not target.parent.exists():
            raise NotFoundError(f"folder {target.parent} does not exist")
        bank = cls(str(target), cls._connect(target, readonly=False), readonly=False)
        bank._initialise()
        return bank

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> SqliteBank:
        target = Path(path)
        if not target.is_file():
            raise NotFoundError(f"no bank at {target} (create one with `hashwarden bank init`)")
        try:
            bank = cls(str(target), cls._connect(target, readonly=readonly), readonly=readonly)
            bank._check_family()
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{target} is not a hashwarden bank ({exc})") from exc
        bank._prepare()
        return bank

    def _initialise(self) -> None:
        """Lay out the schema and the bank's identity in a new, empty store."""
        self._migrate()
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("family", SCHEMA_FAMILY), ("bank_id", str(uuid.uuid4())), ("created", utc_now())],
            )
            sealed = self._seal(list(GUARDED))
            self._record("system", "bank.create", {"sealed": sealed} if sealed else {})

    def _check_family(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'family'").fetchone()
        if row is None or row[0] != SCHEMA_FAMILY:
            raise DataError(f"{self.location} is not a hashwarden bank")

    def _prepare(self) -> None:
        if self.readonly:
            self._check_schema()
        else:
            self._migrate()
            self._seal_unsealed()

    @staticmethod
    def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _applied_migrations(self) -> set[str]:
        conn = self._conn
        if not self.readonly:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, at TEXT)"
            )
        if not self._has_table("schema_migrations"):
            return set()
        return {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}

    def _has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _migrate(self) -> None:
        applied = self._applied_migrations()
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            with self._write():
                for statement in sql.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations(name, at) VALUES (?, ?)", (name, utc_now())
                )

    def _check_schema(self) -> None:
        missing = [n for n, _ in MIGRATIONS if n not in self._applied_migrations()]
        if missing:
            raise DataError(
                f"{self.location} needs migrations {', '.join(missing)}: open it once for writing"
            )
        unsealed = [g.table for g in self._unsealed()]
        if unsealed:
            raise DataError(
                f"{self.location}: the audit log does not cover {', '.join(unsealed)} yet:"
                " open it once for writing"
            )

    # -- guarded tables ----------------------------------------------------------------------
    def _sealed(self) -> set[str]:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'guarded'").fetchone()
        return set(json.loads(row[0])) if row else set()

    def _unsealed(self) -> list[Guarded]:
        sealed = self._sealed()
        return [g for g in GUARDED if g.table not in sealed]

    def _seal(self, tables: list[Guarded]) -> list[str]:
        """Take the rows now in `tables` as vouched for by the transaction's next event (their
        baseline, once per table); returns the tables' names."""
        if self._pending is None:
            raise RuntimeError("sealing runs inside a write transaction")
        for guard in tables:
            total = self._rows_sum(guard)
            if total:
                self._pending[guard.table] = (total, 0)
        names = sorted(self._sealed() | {g.table for g in tables})
        self._conn.execute(
            "INSERT INTO meta(key, value) VALUES ('guarded', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(names),),
        )
        return [g.table for g in tables]

    def _seal_unsealed(self) -> None:
        """A bank made before some table was guarded: record its rows as the baseline."""
        if not self._unsealed():
            return
        with self._write():
            # Asked again under the write lock: another process may have sealed meanwhile.
            fresh = self._unsealed()
            if fresh:
                self._record("system", "bank.seal", {"sealed": self._seal(fresh)})

    def _rows_sum(
        self, guard: Guarded, where: str | None = None, params: Sequence[Any] = ()
    ) -> int:
        """Sum of the digests of the guarded rows `where` selects (all of them if None)."""
        conditions = [f"({c})" for c in (guard.condition, where) if c]
        sql = f"SELECT * FROM {guard.table}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        cursor = self._conn.execute(sql, tuple(params))
        columns = [d[0] for d in cursor.description]
        total = 0
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                total = (total + row_digest(guard.table, columns, row)) % _MOD
        return total

    @contextmanager
    def tracked(self, table: str, where: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Vouch for the statements in the block changing guarded `table`: the rows `where`
        selects (it must select every row they touch, before and after) are digested before
        and after, and the transaction's `record` (inside the block or after it) carries the
        sums, so `verify` can tell these changes from changes made behind the log's back. A
        transaction that changes a guarded table without recording it is refused."""
        guard = next((g for g in GUARDED if g.table == table), None)
        if guard is None:
            raise RuntimeError(f"{table} is not a guarded table")
        if self._pending is None:
            raise RuntimeError("tracked() runs inside a write transaction")
        tracker = _Tracker(guard, where, tuple(params), self._rows_sum(guard, where, params))
        self._trackers.append(tracker)
        try:
            yield self._conn
        finally:
            self._trackers.remove(tracker)
        self._settle(tracker)

    def _settle(self, tracker: _Tracker) -> None:
        """Move a tracker's change so far into the pending sums; it goes on from here."""
        if self._pending is None:
            raise RuntimeError("tracked() runs inside a write transaction")
        after = self._rows_sum(tracker.guard, tracker.where, tracker.params)
        plus, minus = self._pending.get(tracker.guard.table, (0, 0))
        self._pending[tracker.guard.table] = (
            (plus + after) % _MOD,
            (minus + tracker.before) % _MOD,
        )
        tracker.before = after

    @contextmanager
    def _tracked_dependents(self, entry_id: int) -> Iterator[None]:
        """Deleting an entry cascades to its named-bank memberships and votes."""
        with (
            self.tracked("named_bank_entries", "entry_id = ?", (entry_id,)),
            self.tracked("votes", "entry_id = ?", (entry_id,)),
        ):
            yield

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One all-or-nothing write transaction; what it changes in guarded tables must be
        recorded in an audit event of the same transaction."""
        if self.readonly:
            raise UsageError(f"{self.location} is open read-only")
        self._conn.execute("BEGIN IMMEDIATE")
        self._pending = {}
        self._trackers = []
        try:
            yield self._conn
            unrecorded = sorted(t for t, (plus, minus) in self._pending.items() if plus != minus)
            if unrecorded:
                raise RuntimeError(
                    f"a change to {', '.join(unrecorded)} was not recorded in the audit log"
                )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        finally:
            self._pending = None
        self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction for other packages' tables (call `record` inside it)."""
        with self._write() as conn:
            yield conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read on other packages' tables (portable SQL with `?` placeholders)."""
        return [tuple(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]

    def record(self, actor: str, action: str, detail: dict[str, Any]) -> int:
        """Append an audit event; must run inside a write transaction."""
        return self._record(actor, action, detail)

    def _record(self, actor: str, action: str, detail: dict[str, Any]) -> int:
        for tracker in self._trackers:
            self._settle(tracker)
        if self._pending:
            rows = {t: [f"{p:064x}", f"{m:064x}"] for t, (p, m) in sorted(self._pending.items())}
            detail = {**detail, "rows": rows}
            self._pending = {}
        row = self._conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        at = utc_now()
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = _event_hash(prev, seq, at, actor, action, text)
        self._conn.execute(
            "INSERT INTO audit(seq, at, actor, action, detail, prev, hash) VALUES (?,?,?,?,?,?,?)",
            (seq, at, actor, action, text, prev, digest),
        )
        return int(seq)

    def _next_seq(self) -> int:
        row = self._conn.execute("SELECT MAX(seq) FROM audit").fetchone()
        return int(row[0] or 0) + 1

    def add_entries(
        self,
        entries: Iterable[NewEntry],
        *,
        actor: str = "cli",
        action: str = "entries.add",
        on_duplicate: str = "skip",
        detail: dict[str, Any] | None = None,
    ) -> AddResult:
        """Add entries in one transaction; nothing a record brings is dropped.

        A record sharing a signal with an entry already banked is merged into that entry (see
        `_merge`): its new signals join it, fields it lacks are filled in, its category is
        weighed as a claim. A record whose signals belong to two different entries refuses the
        whole addition with ConflictError naming both, as does, with `on_duplicate="error"`, a
        record that brings no signal the entry lacks (a pure duplicate)."""
        if on_duplicate not in ("skip", "error"):
            raise UsageError(f"on_duplicate is skip or error, not {on_duplicate!r}")
        result = AddResult()
        plus = minus = 0
        list_name = str((detail or {}).get("file") or "") or None
        with self._write():
            version = self._next_seq()
            now = utc_now()
            for entry in entries:
                self._check_entry(entry)
                owner = self._single_owner(entry.signals)
                if owner is None:
                    entry_id, digest = self._insert(entry, version, now)
                    if entry.source:
                        self._note_provenance(
                            entry_id, entry.source, entry.category, list_name, now
                        )
                    plus = (plus + digest) % _MOD
                    result.added.append(entry_id)
                    continue
                if on_duplicate == "error" and not set(entry.signals) - self._signal_set(owner):
                    kind, value = entry.signals[0].kind, entry.signals[0].value
                    raise ConflictError(f"{kind} {value} is already in the bank as entry {owner}")
                merge = self._merge(owner, entry, version, now, list_name)
                plus = (plus + merge.plus) % _MOD
                minus = (minus + merge.minus) % _MOD
                result.duplicates += 1
                result.matched.append(owner)
                if merge.gained and owner not in result.merged:
                    result.merged.append(owner)
                if merge.outcome == "updated":
                    result.category_updated += 1
                elif merge.outcome == "conflicting":
                    result.category_conflicting += 1
                else:
                    result.category_kept += 1
            event: dict[str, Any] = {
                "count": len(result.added),
                "duplicates": result.duplicates,
                "merged": result.merged[:20],
                "merged_count": len(result.merged),
                "category_updated": result.category_updated,
                "category_kept": result.category_kept,
                "category_conflicting": result.category_conflicting,
                "plus": f"{plus:064x}",
                "minus": f"{minus:064x}",
                **(detail or {}),
            }
            if len(result.added) <= 20:
                event["ids"] = result.added
            elif result.added:
                event["id_range"] = [result.added[0], result.added[-1]]
            self._record(actor, action, event)
        return result

    def _single_owner(self, signals: list[Signal]) -> int | None:
        """The one entry already holding any of these signals (None if none does);
        ConflictError naming both when they belong to two entries."""
        found: dict[int, Signal] = {}
        for s in sorted(set(signals)):
            row = self._conn.execute(
                "SELECT entry_id FROM signals WHERE kind = ? AND value = ?", (s.kind, s.value)
            ).fetchone()
            if row is not None:
                found.setdefault(int(row[0]), s)
        if len(found) > 1:
            (a, sa), (b, sb) = sorted(found.items())[:2]
            raise ConflictError(
                f"one record holds {sa.kind} {sa.value} of entry {a} and {sb.kind} {sb.value}"
                f" of entry {b}: a record cannot join two entries, so nothing was added"
            )
        return next(iter(found), None)

    def _signal_set(self, entry_id: int) -> set[Signal]:
        return {
            Signal(k, v)
            for k, v in self._conn.execute(
                "SELECT kind, value FROM signals WHERE entry_id = ?", (entry_id,)
            )
        }

    def _merge(
        self, entry_id: int, record: NewEntry, version: int, now: str, list_name: str | None
    ) -> _Merge:
        """Fold a record into the entry that holds some of its signals, inside the current
        transaction: new signals join it; series, first seen, note and extra keys it lacks are
        filled in (what it has is kept); a victim identified stays identified. The category:
        a record with a source is that organisation's claim, and the entry takes the consensus
        when the claim changed; a record without a source only fills in an uncategorised entry.
        Either way an `uncategorised` record never lowers a category."""
        old = self._get(entry_id)
        category = old.category
        outcome = "kept"
        if record.source:
            changed = self._note_provenance(
                entry_id, record.source, record.category, list_name, now
            )
            if changed:
                category = self._consensus(entry_id) or old.category
            if record.category != "uncategorised":
                others = {
                    str(r[0])
                    for r in self._conn.execute(
                        "SELECT category FROM provenance WHERE entry_id = ? AND org <> ?"
                        " AND category <> 'uncategorised'",
                        (entry_id, record.source),
                    )
                }
                if category != record.category or others - {record.category}:
                    outcome = "conflicting"
                elif category != old.category:
                    outcome = "updated"
        elif record.category != "uncategorised":
            if old.category == "uncategorised":
                category, outcome = record.category, "updated"
            elif old.category != record.category:
                outcome = "conflicting"
        new_signals = sorted(set(record.signals) - set(old.signals))
        merged = Entry(
            **{
                **old.__dict__,
                "signals": sorted(set(old.signals) | set(record.signals)),
                "category": category,
                "series": old.series if old.series is not None else record.series,
                "victim_identified": old.victim_identified or record.victim_identified,
                "first_seen": old.first_seen if old.first_seen is not None else record.first_seen,
                "note": old.note if old.note is not None else record.note,
                "extra": {**record.extra, **old.extra},
            }
        )
        old_digest = entry_digest(entry_id, old, old.added)
        new_digest = entry_digest(entry_id, merged, old.added)
        if new_digest == old_digest:
            return _Merge(outcome, gained=False)
        self._conn.executemany(
            "INSERT INTO signals(kind, value, entry_id) VALUES (?,?,?)",
            [(s.kind, s.value, entry_id) for s in new_signals],
        )
        self._conn.execute(
            "UPDATE entries SET category=?, series=?, victim_identified=?, first_seen=?, note=?,"
            " extra=?, version=?, digest=? WHERE id=?",
            (
                merged.category,
                merged.series,
                int(merged.victim_identified),
                merged.first_seen,
                merged.note,
                json.dumps(merged.extra, sort_keys=True),
                version,
                new_digest,
                entry_id,
            ),
        )
        unchanged_but_category = Entry(**{**merged.__dict__, "category": old.category})
        gained = entry_digest(entry_id, unchanged_but_category, old.added) != old_digest
        return _Merge(outcome, gained, int(new_digest, 16), int(old_digest, 16))

    def _note_provenance(
        self, entry_id: int, org: str, category: str, list_name: str | None, now: str
    ) -> bool:
        """Record an organisation's claim on an entry; True if its category claim changed.
        An `uncategorised` claim never replaces a category the organisation gave before."""
        row = self._conn.execute(
            "SELECT category FROM provenance WHERE entry_id = ? AND org = ?", (entry_id, org)
        ).fetchone()
        previous = None if row is None else str(row[0])
        if category == "uncategorised" and previous is not None:
            category = previous
        self._conn.execute(
            "INSERT INTO provenance(entry_id, org, category, list_name, imported)"
            " VALUES (?,?,?,?,?) ON CONFLICT (entry_id, org) DO UPDATE SET"
            " category = excluded.category, list_name = excluded.list_name,"
            " imported = excluded.imported",
            (entry_id, org, category, list_name, now),
        )
        return category != "uncategorised" and category != previous

    def _consensus(self, entry_id: int) -> str | None:
        """The most severe category the organisations that do not dispute the entry claim;
        `uncategorised` claims say nothing, so None when no real category is claimed. Peers'
        claims (`peer:NAME`, from bundles) never count: a peer speaks only for its own entries."""
        rows = self._conn.execute(
            "SELECT p.category FROM provenance p LEFT JOIN votes v"
            " ON v.entry_id = p.entry_id AND v.org = p.org"
            " WHERE p.entry_id = ? AND p.category <> 'uncategorised'"
            " AND p.org NOT LIKE 'peer:%'"
            " AND (v.vote IS NULL OR v.vote <> 'dispute')",
            (entry_id,),
        ).fetchall()
        return most_severe([str(r[0]) for r in rows]) if rows else None

    def _apply_consensus(self, entry_id: int, version: int) -> tuple[int, int] | None:
        """Set the entry's category to the consensus (left as it is when no organisation
        claims a real category); (new, old) digests if it changed."""
        consensus = self._consensus(entry_id)
        old = self._get(entry_id)
        if consensus is None or consensus == old.category:
            return None
        new = Entry(**{**old.__dict__, "category": consensus})
        old_digest = entry_digest(entry_id, old, old.added)
        new_digest = entry_digest(entry_id, new, old.added)
        self._conn.execute(
            "UPDATE entries SET category = ?, version = ?, digest = ? WHERE id = ?",
            (consensus, version, new_digest, entry_id),
        )
        return int(new_digest, 16), int(old_digest, 16)

    def conflicts(self) -> dict[int, dict[str, str]]:
        """Entries whose organisations disagree on the category: entry id → org → category."""
        found: dict[int, dict[str, str]] = {}
        for entry_id, org, category in self._conn.execute(
            "SELECT entry_id, org, category FROM provenance WHERE entry_id IN"
            " (SELECT entry_id FROM provenance GROUP BY entry_id"
            "  HAVING COUNT(DISTINCT category) > 1) ORDER BY entry_id, org"
        ):
            found.setdefault(int(entry_id), {})[org] = category
        return found

    def provenance(self, entry_id: int) -> list[tuple[str, str, str | None, str]]:
        """(organisation, its category, list, when) for an entry."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._conn.execute(
                "SELECT org, category, list_name, imported FROM provenance WHERE entry_id = ?"
                " ORDER BY org",
                (entry_id,),
            )
        ]

    def vote(
        self, entry_id: int, org: str, vote: str, *, reason: str | None = None, actor: str = "cli"
    ) -> str:
        """Record an organisation's confirm or dispute of an entry; returns the category after
        the consensus is recomputed (a dispute takes that organisation's category out of it)."""
        if vote not in ("confirm", "dispute"):
            raise UsageError(f"a vote is confirm or dispute, not {vote!r}")
        with self._write():
            self._get(entry_id)
            version = self._next_seq()
            with self.tracked("votes", "entry_id = ? AND org = ?", (entry_id, org)):
                self._conn.execute(
                    "INSERT INTO votes(entry_id, org, vote, reason, at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (entry_id, org) DO UPDATE SET vote = excluded.vote,"
                    " reason = excluded.reason, at = excluded.at",
                    (entry_id, org, vote, reason, utc_now()),
                )
            changed = self._apply_consensus(entry_id, version)
            plus, minus = changed if changed else (0, 0)
            self._record(
                actor,
                "entry.vote",
                {
                    "id": entry_id,
                    "org": org,
                    "vote": vote,
                    "reason": reason,
                    "plus": f"{plus:064x}",
                    "minus": f"{minus:064x}",
                },
            )
        return self._get(entry_id).category

    def disputed_entry_ids(self) -> set[int]:
        """Entries more organisations dispute than confirm (for matching policies)."""
        return {
            int(r[0])
            for r in self._conn.execute(
                "SELECT entry_id FROM votes GROUP BY entry_id"
                " HAVING SUM(CASE WHEN vote = 'dispute' THEN 1 ELSE -1 END) > 0"
            )
        }

    def _insert(self, entry: NewEntry, version: int, now: str) -> tuple[int, int]:
        """Insert one entry inside the current transaction: (id, digest as an integer). A
        signal listed twice is stored, and digested, once."""
        entry = replace(entry, signals=sorted(set(entry.signals)))
        cursor = self._conn.execute(
            "INSERT INTO entries(category, series, victim_identified, source, first_seen,"
            " added, note, extra, version, digest) VALUES (?,?,?,?,?,?,?,?,?,'') RETURNING id",
            (
                entry.category,
                entry.series,
                int(entry.victim_identified),
                entry.source,
                entry.first_seen,
                now,
                entry.note,
                json.dumps(entry.extra, sort_keys=True),
                version,
            ),
        )
        entry_id = int(cursor.fetchone()[0])
        digest = entry_digest(entry_id, entry, now)
        self._conn.execute("UPDATE entries SET digest = ? WHERE id = ?", (digest, entry_id))
        self._conn.executemany(
            "INSERT INTO signals(kind, value, entry_id) VALUES (?,?,?)",
            [(s.kind, s.value, entry_id) for s in set(entry.signals)],
        )
        return entry_id, int(digest, 16)

    def apply_changes(
        self,
        upserts: Iterable[NewEntry],
        removals: Iterable[list[Signal]],
        *,
        origin: str,
        claimant: str,
        list_name: str | None = None,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        before: Callable[[Any], None] | None = None,
    ) -> ChangeResult:
        """Apply a peer's delta in one transaction; the peer (`origin`) speaks only for itself.

        Entries it owns (extra[ORIGIN_KEY] == origin) it may add, change and remove. On an
        entry this bank or another peer owns, an upsert only records `claimant`'s category in
        `provenance` (shown by `conflicts`), leaving the entry and its signals as they are, and
        a removal only withdraws that claim; signals of such an upsert that no entry holds are
        not stored. `before` runs first inside the transaction (checks that may refuse it all).
        """
        result = ChangeResult()
        plus = minus = 0
        removed_signals: list[list[list[str]]] = []
        not_stored = 0
        with self._write():
            if before is not None:
                before(self._conn)
            version = self._next_seq()
            now = utc_now()
            for signals in removals:
                for entry_id in sorted(set(self._owners(signals).values())):
                    old = self._get(entry_id)
                    if old.extra.get(ORIGIN_KEY) != origin:
                        if self._withdraw_claim(entry_id, claimant):
                            result.withdrawn.append(entry_id)
                        continue
                    with self._tracked_dependents(entry_id):
                        self._conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
                    minus = (minus + int(entry_digest(entry_id, old, old.added), 16)) % _MOD
                    removed_signals.append(sorted([s.kind, s.value] for s in old.signals))
                    result.removed.append(entry_id)
            for upsert in upserts:
                entry = NewEntry(
                    **{
                        **upsert.__dict__,
                        "signals": sorted(set(upsert.signals)),  # each once, as stored
                        "extra": {**upsert.extra, ORIGIN_KEY: origin},
                    }
                )
                self._check_entry(entry)
                owners = self._owners(entry.signals)
                held = {eid: self._get(eid) for eid in set(owners.values())}
                own = sorted(eid for eid, e in held.items() if e.extra.get(ORIGIN_KEY) == origin)
                free = sorted(set(entry.signals) - set(owners))
                for eid in sorted(set(held) - set(own)):
                    self._claim(held[eid], entry.category, claimant, list_name, now)
                    result.claimed.append(eid)
                if not held:
                    entry_id, digest = self._insert(entry, version, now)
                    self._note_provenance(entry_id, claimant, entry.category, list_name, now)
                    plus = (plus + digest) % _MOD
                    result.added.append(entry_id)
                elif own:
                    changed = self._update_own(held[own[0]], entry, free, version)
                    self._note_provenance(own[0], claimant, entry.category, list_name, now)
                    if changed is not None:
                        plus = (plus + changed[0]) % _MOD
                        minus = (minus + changed[1]) % _MOD
                        result.updated.append(own[0])
                else:
                    not_stored += len(free)  # not ours to attach to someone else's entry
            self._record(
                actor,
                action,
                {
                    **(detail or {}),
                    "added": len(result.added),
                    "updated": len(result.updated),
                    "removed": len(result.removed),
                    "claimed": len(result.claimed),
                    "withdrawn": len(result.withdrawn),
                    "signals_not_stored": not_stored,
                    "removed_signals": removed_signals,
                    "plus": f"{plus:064x}",
                    "minus": f"{minus:064x}",
                },
            )
        return result

    def _owners(self, signals: Iterable[Signal]) -> dict[Signal, int]:
        """Which entry holds each of these signals (those no entry holds are left out)."""
        found: dict[Signal, int] = {}
        for s in set(signals):
            row = self._conn.execute(
                "SELECT entry_id FROM signals WHERE kind = ? AND value = ?", (s.kind, s.value)
            ).fetchone()
            if row:
                found[s] = int(row[0])
        return found

    def _update_own(
        self, old: Entry, entry: NewEntry, free: list[Signal], version: int
    ) -> tuple[int, int] | None:
        """Give a peer's own entry the fields of its upsert and the signals no entry holds;
        (new, old) digests if anything changed."""
        merged = Entry(
            signals=sorted(set(old.signals) | set(free)),
            category=entry.category,
            series=entry.series,
            victim_identified=entry.victim_identified,
            source=entry.source,
            first_seen=entry.first_seen,
            note=entry.note,
            extra=entry.extra,
            id=old.id,
            added=old.added,
        )
        old_digest = entry_digest(old.id, old, old.added)
        new_digest = entry_digest(old.id, merged, old.added)
        if new_digest == old_digest:
            return None
        self._conn.executemany(
            "INSERT INTO signals(kind, value, entry_id) VALUES (?,?,?)",
            [(s.kind, s.value, old.id) for s in free],
        )
        self._conn.execute(
            "UPDATE entries SET category=?, series=?, victim_identified=?, source=?,"
            " first_seen=?, note=?, extra=?, version=?, digest=? WHERE id=?",
            (
                merged.category,
                merged.series,
                int(merged.victim_identified),
                merged.source,
                merged.first_seen,
                merged.note,
                json.dumps(merged.extra, sort_keys=True),
                version,
                new_digest,
                old.id,
            ),
        )
        return int(new_digest, 16), int(old_digest, 16)

    def _claim(
        self, held: Entry, category: str, claimant: str, list_name: str | None, now: str
    ) -> None:
        """Record a peer's view of an entry it does not own, next to the owner's own view
        (kept if present) so that `conflicts` shows any disagreement."""
        owner_origin = held.extra.get(ORIGIN_KEY)
        if owner_origin is None:
            owner = held.source or "local"
        else:
            row = self._conn.execute(
                "SELECT key_name FROM bundle_state WHERE origin = ?", (str(owner_origin),)
            ).fetchone()
            owner = f"peer:{row[0]}" if row else f"origin:{owner_origin}"
        self._conn.execute(
            "INSERT INTO provenance(entry_id, org, category, list_name, imported)"
            " VALUES (?,?,?,?,?) ON CONFLICT (entry_id, org) DO NOTHING",
            (held.id, owner, held.category, None, now),
        )
        self._note_provenance(held.id, claimant, category, list_name, now)

    def _withdraw_claim(self, entry_id: int, claimant: str) -> bool:
        rows = self._conn.execute(
            "DELETE FROM provenance WHERE entry_id = ? AND org = ? RETURNING entry_id",
            (entry_id, claimant),
        ).fetchall()
        return bool(rows)

    def add_entry(self, entry: NewEntry, *, actor: str = "cli") -> int:
        """Add one entry and return its id. When some of its signals are banked already, its
        new signals are merged into that entry and its id returned; a record that brings no
        new signal (a pure duplicate) or that bridges two entries is a ConflictError."""
        result = self.add_entries([entry], actor=actor, action="entry.add", on_duplicate="error")
        return (result.added or result.matched)[0]

    @staticmethod
    def _check_entry(entry: NewEntry) -> None:
        if not entry.signals:
            raise UsageError("an entry needs at least one signal")
        if entry.category not in CATEGORIES:
            raise UsageError(f"unknown category {entry.category!r}")

    def update_entry(self, entry_id: int, *, actor: str = "cli", **changes: Any) -> Entry:
        """Change an entry's fields (not its signals); recorded with old and new digests."""
        allowed = {
            "category",
            "series",
            "victim_identified",
            "source",
            "first_seen",
            "note",
            "extra",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise UsageError(f"cannot change {', '.join(sorted(unknown))} of an entry")
        with self._write() as conn:
            old = self._get(entry_id)
            new = Entry(**{**old.__dict__, **changes})
            self._check_entry(new)
            version = self._next_seq()
            digest = entry_digest(entry_id, new, old.added)
            conn.execute(
                "UPDATE entries SET category=?, series=?, victim_identified=?, source=?,"
                " first_seen=?, note=?, extra=?, version=?, digest=? WHERE id=?",
                (
                    new.category,
                    new.series,
                    int(new.victim_identified),
                    new.source,
                    new.first_seen,
                    new.note,
                    json.dumps(new.extra, sort_keys=True),
                    version,
                    digest,
                    entry_id,
                ),
            )
            old_digest = entry_digest(entry_id, old, old.added)
            self._record(
                actor,
                "entry.update",
                {
                    "id": entry_id,
                    "changes": sorted(changes),
                    "plus": digest,
                    "minus": old_digest,
                },
            )
            new.version = version
            return new

    def remove_entry(
        self, entry_id: int, *, actor: str = "cli", reason: str | None = None
    ) -> Entry:
        """Remove an entry and its signals; the audit event keeps its signals as a tombstone
        (which the next bundle carries as a removal) and the reason given."""
        with self._write():
            return self._remove(self._get(entry_id), actor, reason)

    def remove_by_signal(
        self, signal: Signal, *, actor: str = "cli", reason: str | None = None
    ) -> Entry:
        """Remove the entry holding this signal; NotFoundError if no entry holds it."""
        with self._write():
            row = self._conn.execute(
                "SELECT entry_id FROM signals WHERE kind = ? AND value = ?",
                (signal.kind, signal.value),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"{signal.kind} {signal.value} is not in the bank")
            return self._remove(self._get(int(row[0])), actor, reason)

    def _remove(self, old: Entry, actor: str, reason: str | None) -> Entry:
        with self._tracked_dependents(old.id):
            self._conn.execute("DELETE FROM entries WHERE id = ?", (old.id,))
        detail: dict[str, Any] = {
            "id": old.id,
            "signals": sorted([s.kind, s.value] for s in old.signals),
            "plus": GENESIS,
            "minus": entry_digest(old.id, old, old.added),
        }
        if reason is not None:
            detail["reason"] = reason
        self._record(actor, "entry.remove", detail)
        return old

    def add_known_good(
        self,
        set_name: str,
        signals: Iterable[Signal],
        *,
        source: str | None = None,
        actor: str = "cli",
    ) -> int:
        """Add signals to a known-good set (created if new); returns how many were new."""
        added = 0
        plus = 0
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM known_good_sets WHERE name = ?", (set_name,)
            ).fetchone()
            if row:
                set_id = int(row[0])
            else:
                set_id = int(
                    conn.execute(
                        "INSERT INTO known_good_sets(name, source, added) VALUES (?,?,?)"
                        " RETURNING id",
                        (set_name, source, utc_now()),
                    ).fetchone()[0]
                )
            for batch in _batched(signals, 20_000):
                fresh = self._new_known_good(set_id, batch)
                conn.executemany(
                    "INSERT INTO known_good(kind, value, set_id) VALUES (?,?,?)",
                    [(k, v, set_id) for k, v in fresh],
                )
                added += len(fresh)
                for kind, value in fresh:
                    plus = (plus + _kg_digest(kind, value, set_name)) % _MOD
            self._record(
                actor,
                "known_good.add",
                {
                    "set": set_name,
                    "count": added,
                    "kg_plus": f"{plus:064x}",
                },
            )
        return added

    def _new_known_good(self, set_id: int, batch: list[Signal]) -> list[tuple[str, str]]:
        """The batch's distinct signals not yet in the set."""
        wanted = sorted({(s.kind, s.value) for s in batch})
        present: set[tuple[str, str]] = set()
        for kind in {k for k, _ in wanted}:
            values = [v for k, v in wanted if k == kind]
            for chunk in _chunks(values):
                marks = ",".join("?" * len(chunk))
                present.update(
                    (kind, v)
                    for (v,) in self._conn.execute(
                        f"SELECT value FROM known_good WHERE set_id = ? AND kind = ?"
                        f" AND value IN ({marks})",
                        [set_id, kind, *chunk],
                    )
                )
        return [pair for pair in wanted if pair not in present]

    # -- reading -----------------------------------------------------------------------------
    def _row_to_entry(self, row: tuple[Any, ...], signals: list[Signal]) -> Entry:
        (eid, category, series, victim, source, first_seen, added, note, extra, version) = row
        return Entry(
            id=int(eid),
            signals=signals,
            category=category,
            series=series,
            victim_identified=bool(victim),
            source=source,
            first_seen=first_seen,
            added=added,
            note=note,
            extra=json.loads(extra),
            version=int(version),
        )

    _ENTRY_COLUMNS = (
        "id, category, series, victim_identified, source, first_seen, added, note, extra, version"
    )

    def _get(self, entry_id: int) -> Entry:
        row = self._conn.execute(
            f"SELECT {self._ENTRY_COLUMNS} FROM entries WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no entry {entry_id} in {self.location}")
        signals = [
            Signal(k, v)
            for k, v in self._conn.execute(
                "SELECT kind, value FROM signals WHERE entry_id = ? ORDER BY kind", (entry_id,)
            )
        ]
        return self._row_to_entry(row, signals)

    def get_entry(self, entry_id: int) -> Entry:
        return self._get(entry_id)

    def entries_by_id(self, ids: Iterable[int]) -> dict[int, Entry]:
        wanted = sorted(set(ids))
        found: dict[int, Entry] = {}
        for chunk in _chunks([str(i) for i in wanted]):
            marks = ",".join("?" * len(chunk))
            sigs: dict[int, list[Signal]] = {}
            for eid, kind, value in self._conn.execute(
                f"SELECT entry_id, kind, value FROM signals WHERE entry_id IN ({marks})", chunk
            ):
                sigs.setdefault(int(eid), []).append(Signal(kind, value))
            for row in self._conn.execute(
                f"SELECT {self._ENTRY_COLUMNS} FROM entries WHERE id IN ({marks})", chunk
            ):
                found[int(row[0])] = self._row_to_entry(row, sorted(sigs.get(int(row[0]), [])))
        return found

    def entries(self, *, since_version: int = 0) -> Iterator[Entry]:
        """Every entry (changed after `since_version`), in id order, streamed."""
        last = 0
        while True:
            rows = self._conn.execute(
                f"SELECT {self._ENTRY_COLUMNS} FROM entries WHERE id > ? AND version > ?"
                " ORDER BY id LIMIT 1000",
                (last, since_version),
            ).fetchall()
            if not rows:
                return
            by_id = self.entries_by_id(int(r[0]) for r in rows)
            for r in rows:
                yield by_id[int(r[0])]
            last = int(rows[-1][0])

    def signals(self, kind: str) -> Iterator[tuple[int, str]]:
        """(entry id, value) of every signal of a kind, streamed."""
        cursor = self._conn.execute(
            "SELECT entry_id, value FROM signals WHERE kind = ? ORDER BY entry_id", (kind,)
        )
        while rows := cursor.fetchmany(10_000):
            for eid, value in rows:
                yield int(eid), value

    def lookup(self, kind: str, values: Iterable[str]) -> dict[str, int]:
        """Which of these values are banked, and in which entry."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            for value, eid in self._conn.execute(
                f"SELECT value, entry_id FROM signals WHERE kind = ? AND value IN ({marks})",
                [kind, *chunk],
            ):
                found[value] = int(eid)
        return found

    def known_good_signals(self, kind: str, *, limit: int = -1) -> Iterator[tuple[str, str]]:
        """(value, set name) of every known-good signal of a kind (at most `limit`), streamed."""
        cursor = self._conn.execute(
            "SELECT k.value, s.name FROM known_good k JOIN known_good_sets s ON s.id = k.set_id"
            " WHERE k.kind = ? LIMIT ?",
            (kind, limit if limit >= 0 else 2**62),
        )
        while rows := cursor.fetchmany(10_000):
            for value, name in rows:
                yield str(value), str(name)

    def known_good_lookup(self, kind: str, values: Iterable[str]) -> dict[str, str]:
        """Which of these values are in a known-good set, and which set."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            for value, name in self._conn.execute(
                "SELECT k.value, s.name FROM known_good k JOIN known_good_sets s ON s.id = k.set_id"
                f" WHERE k.kind = ? AND k.value IN ({marks})",
                [kind, *chunk],
            ):
                found[value] = name
        return found

    def trusted_keys(self) -> list[tuple[str, str, str, str | None]]:
        """(name, public key, added, revoked or None) of every key bundles may be signed with."""
        rows = self._conn.execute(
            "SELECT name, public_key, added, revoked FROM trusted_keys ORDER BY name"
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]

    def trusted_key(self, public_key: str) -> tuple[str, str | None] | None:
        """(name, revoked or None) of a trusted public key, or None if it is not trusted."""
        row = self._conn.execute(
            "SELECT name, revoked FROM trusted_keys WHERE public_key = ?", (public_key,)
        ).fetchone()
        return (str(row[0]), row[1]) if row else None

    def bundle_sequence(self, origin: str) -> int:
        """The last audit sequence of `origin` applied from its bundles (0 if none)."""
        row = self._conn.execute(
            "SELECT last_sequence FROM bundle_state WHERE origin = ?", (origin,)
        ).fetchone()
        return int(row[0]) if row else 0

    def events_between(self, start: str, end: str) -> list[tuple[Any, ...]]:
        """Statistics events with `start <= at < end` (ISO text), oldest first: (at, channel,
        outcome, category, series, victim_identified, region, count)."""
        return [
            tuple(r)
            for r in self._conn.execute(
                "SELECT at, channel, outcome, category, series, victim_identified, region, count"
                " FROM events WHERE at >= ? AND at < ? ORDER BY at",
                (start, end),
            )
        ]

    @property
    def bank_id(self) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'bank_id'").fetchone()
        return str(row[0])

    def head(self) -> tuple[int, str]:
        row = self._conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def fingerprint(self) -> str:
        """Names this bank at this state: its id, audit sequence and chain head."""
        seq, digest = self.head()
        return f"{self.bank_id}:{seq}:{digest[:16]}"

    def stats(self) -> BankStats:
        c = self._conn
        return BankStats(
            entries=int(c.execute("SELECT COUNT(*) FROM entries").fetchone()[0]),
            signals_by_kind=dict(
                c.execute(
                    "SELECT kind, COUNT(*) FROM signals GROUP BY kind ORDER BY kind"
                ).fetchall()
            ),
            entries_by_category=dict(
                c.execute(
                    "SELECT category, COUNT(*) FROM entries GROUP BY category ORDER BY category"
                ).fetchall()
            ),
            known_good_sets=dict(
                c.execute(
                    "SELECT s.name, COUNT(k.value) FROM known_good_sets s"
                    " LEFT JOIN known_good k ON k.set_id = s.id GROUP BY s.name ORDER BY s.name"
                ).fetchall()
            ),
            audit_events=int(c.execute("SELECT COUNT(*) FROM audit").fetchone()[0]),
            bank_id=self.bank_id,
            fingerprint=self.fingerprint(),
        )

    def audit_events(self, *, after: int = 0) -> Iterator[AuditEvent]:
        cursor = self._conn.execute(
            "SELECT seq, at, actor, action, detail, prev, hash FROM audit WHERE seq > ?"
            " ORDER BY seq",
            (after,),
        )
        while rows := cursor.fetchmany(1000):
            for seq, at, actor, action, detail, prev, digest in rows:
                yield AuditEvent(int(seq), at, actor, action, json.loads(detail), prev, digest)

    # -- verification ------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Check the audit chain, each entry against its digest, and the bank (entries,
        known-good sets, guarded tables) against the log."""
        problems: list[str] = []
        expected_prev, expected_seq = GENESIS, 1
        plus = minus = kg_plus = 0
        # Per guarded table: net sum of the row digests the log vouches for; sealing events.
        logged: dict[str, int] = {}
        seals: dict[str, list[int]] = {}
        events = 0
        for seq, at, actor, action, text, prev, digest in self._conn.execute(
            "SELECT seq, at, actor, action, detail, prev, hash FROM audit ORDER BY seq"
        ):
            events += 1
            if seq != expected_seq:
                problems.append(f"audit event {expected_seq} is missing (next is {seq})")
            if prev != expected_prev:
                problems.append(f"audit event {seq}: its link to event {seq - 1} is broken")
            if _event_hash(prev, seq, at, actor, action, text) != digest:
                problems.append(f"audit event {seq} ({action} at {at}) was altered")
            try:
                detail = json.loads(text)
                plus = (plus + int(str(detail.get("plus", GENESIS)), 16)) % _MOD
                minus = (minus + int(str(detail.get("minus", GENESIS)), 16)) % _MOD
                kg_plus = (kg_plus + int(str(detail.get("kg_plus", GENESIS)), 16)) % _MOD
                for table in detail.get("sealed", []):
                    seals.setdefault(str(table), []).append(int(seq))
                for table, (row_plus, row_minus) in detail.get("rows", {}).items():
                    net = int(row_plus, 16) - int(row_minus, 16)
                    logged[table] = (logged.get(table, 0) + net) % _MOD
            except (ValueError, AttributeError, TypeError):
                problems.append(f"audit event {seq} has an unreadable detail")
            expected_prev, expected_seq = digest, seq + 1

        entries = 0
        actual = 0
        for entry in self.entries():
            entries += 1
            stored = self._conn.execute(
                "SELECT digest FROM entries WHERE id = ?", (entry.id,)
            ).fetchone()[0]
            digest = entry_digest(entry.id, entry, entry.added)
            if digest != stored:
                problems.append(f"entry {entry.id} was changed outside hashwarden")
            actual = (actual + int(stored, 16)) % _MOD
        if (plus - minus) % _MOD != actual:
            problems.append(
                "the entries do not add up to what the audit log recorded: rows were inserted,"
                " deleted or re-digested outside hashwarden"
            )
        kg_actual = 0
        for kind, value, name in self._conn.execute(
            "SELECT k.kind, k.value, s.name FROM known_good k JOIN known_good_sets s ON s.id = k.set_id"
        ):
            kg_actual = (kg_actual + _kg_digest(kind, value, name)) % _MOD
        if kg_actual != kg_plus:
            problems.append("the known-good sets do not match what the audit log recorded")
        for guard in GUARDED:
            sealed_in = seals.get(guard.table, [])
            if not sealed_in:
                problems.append(
                    f"{guard.table} is not covered by the audit log yet: open the bank once"
                    " for writing"
                )
            elif len(sealed_in) > 1:
                events_text = ", ".join(str(s) for s in sealed_in)
                problems.append(
                    f"{guard.table} was sealed more than once (audit events {events_text}):"
                    " rows changed outside hashwarden may have been taken as a new baseline"
                )
            if self._rows_sum(guard) != logged.get(guard.table, 0):
                problems.append(
                    f"{guard.table} changed outside hashwarden: its rows do not add up to what"
                    " the audit log recorded"
                )
        return VerifyReport(events=events, entries=entries, guarded=len(GUARDED), problems=problems)
