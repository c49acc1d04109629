"""The audit log: a SHA-256 hash chain of events, each recorded in the transaction of the
change it describes.

Each event can carry additive digests (sums mod 2**256): of entries added and removed (`plus`,
`minus`), of known-good signals (`kg_plus`), and, under `rows`, of the rows of guarded tables
(bank/guarded.py) before and after the statements of a `tracked` block. `bank verify`
(bank/_verify.py) adds them up over the whole log and compares them with the bank.

The log is the database's transaction guard: every write transaction starts with no change
pending and is refused at commit if it changed a guarded table without recording it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hashwarden._sql import Database
from hashwarden._time import utc_now
from hashwarden.bank.base import GENESIS, AuditEvent, event_hash
from hashwarden.bank.guarded import Guarded, row_digest

__all__ = ["GENESIS", "MOD", "SqlAudit", "event_hash", "names_entry"]

MOD = 2**256


def names_entry(detail: dict[str, Any], entry_id: int) -> bool:
    """Whether an audit event's detail names the entry (by id, in a list of ids or a range)."""
    if detail.get("id") == entry_id:
        return True
    if entry_id in (detail.get("ids") or []) or entry_id in (detail.get("merged") or []):
        return True
    span = detail.get("id_range") or []
    return len(span) == 2 and span[0] <= entry_id <= span[1]


def rows_sum(
    db: Database, guard: Guarded, where: str | None = None, params: Sequence[Any] = ()
) -> int:
    """Sum of the digests of the guarded rows `where` selects (all of them if None), each
    over the guard's columns."""
    conditions = [f"({c})" for c in (guard.condition, where) if c]
    selected = ", ".join(guard.columns) if guard.columns else "*"
    sql = f"SELECT {selected} FROM {guard.table}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    cursor = db.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    total = 0
    while rows := cursor.fetchmany(10_000):
        for row in rows:
            total = (total + row_digest(guard.table, columns, row)) % MOD
    return total


@dataclass(slots=True)
class _Tracker:
    """An open `tracked` block: which rows it watches, and their digest sum when last settled."""

    guard: Guarded
    where: str
    params: tuple[Any, ...]
    before: int


class SqlAudit:
    """The audit log of one bank (implements `AuditLog`)."""

    def __init__(self, db: Database, guarded: Sequence[Guarded]) -> None:
        self._db = db
        #: The guarded tables (bank.guarded.GUARDED; a test may pass fewer).
        self.guarded = tuple(guarded)
        #: In a write transaction: per guarded table, the (plus, minus) digest sums of its
        #: tracked changes that the next event will carry. None outside one.
        self._pending: dict[str, tuple[int, int]] | None = None
        #: The `tracked` blocks open in this transaction, settled by each `record`.
        self._trackers: list[_Tracker] = []
        db.guards.append(self)

    # -- the database's transaction guard ---------------------------------------------------
    def begin(self) -> None:
        self._pending = {}
        self._trackers = []

    def before_commit(self) -> None:
        pending = self._pending or {}
        unrecorded = sorted(t for t, (plus, minus) in pending.items() if plus != minus)
        if unrecorded:
            raise RuntimeError(
                f"a change to {', '.join(unrecorded)} was not recorded in the audit log"
            )

    def end(self) -> None:
        self._pending = None

    # -- recording --------------------------------------------------------------------------
    def record(self, actor: str, action: str, detail: dict[str, Any]) -> int:
        """Append an event, with the row digests of the guarded changes since the last one;
        must run inside a write transaction. Returns its sequence number."""
        for tracker in self._trackers:
            self._settle(tracker)
        if self._pending:
            rows = {t: [f"{p:064x}", f"{m:064x}"] for t, (p, m) in sorted(self._pending.items())}
            detail = {**detail, "rows": rows}
            self._pending = {}
        last, prev = self.head()
        seq = last + 1
        at = utc_now()
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = event_hash(prev, seq, at, actor, action, text)
        self._db.execute(
            "INSERT INTO audit(seq, at, actor, action, detail, prev, hash) VALUES (?,?,?,?,?,?,?)",
            (seq, at, actor, action, text, prev, digest),
        )
        return int(seq)

    def next_seq(self) -> int:
        """The sequence number the next event will get: the version of entries it changes."""
        row = self._db.execute("SELECT MAX(seq) FROM audit").fetchone()
        return int(row[0] or 0) + 1

    @contextmanager
    def tracked(self, table: str, where: str, params: Sequence[Any] = ()) -> Iterator[Database]:
        """Vouch for the statements in the block changing guarded `table`: the rows `where`
        selects (it must select every row they touch, before and after) are digested before
        and after, and the transaction's `record` (inside the block or after it) carries the
        sums, so `verify` can tell these changes from changes made behind the log's back. A
        transaction that changes a guarded table without recording it is refused."""
        guard = next((g for g in self.guarded if g.table == table), None)
        if guard is None:
            raise RuntimeError(f"{table} is not a guarded table")
        if self._pending is None:
            raise RuntimeError("tracked() runs inside a write transaction")
        tracker = _Tracker(guard, where, tuple(params), rows_sum(self._db, guard, where, params))
        self._trackers.append(tracker)
        try:
            yield self._db
        finally:
            self._trackers.remove(tracker)
        self._settle(tracker)

    @contextmanager
    def tracked_appends(self, table: str) -> Iterator[Database]:
        """`tracked` for a block that only adds rows to a guarded queue numbered by `id`: the
        rows after its highest id now are digested, not the whole table. `table`: a name
        from the code, never from input."""
        (last,) = self._db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        with self.tracked(table, "id > ?", (int(last),)) as db:
            yield db

    def _settle(self, tracker: _Tracker) -> None:
        """Move a tracker's change so far into the pending sums; it goes on from here."""
        if self._pending is None:
            raise RuntimeError("tracked() runs inside a write transaction")
        after = rows_sum(self._db, tracker.guard, tracker.where, tracker.params)
        plus, minus = self._pending.get(tracker.guard.table, (0, 0))
        self._pending[tracker.guard.table] = (
            (plus + after) % MOD,
            (minus + tracker.before) % MOD,
        )
        tracker.before = after

    @contextmanager
    def tracked_dependents(self, entry_id: int) -> Iterator[None]:
        """Deleting an entry cascades to its named-bank memberships, votes and views."""
        with (
            self.tracked("named_bank_entries", "entry_id = ?", (entry_id,)),
            self.tracked("votes", "entry_id = ?", (entry_id,)),
            self.tracked("entry_views", "entry_id = ?", (entry_id,)),
        ):
            yield

    # -- sealing: guarded tables' first baseline --------------------------------------------
    def sealed(self) -> set[str]:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'guarded'").fetchone()
        return set(json.loads(row[0])) if row else set()

    def unsealed(self) -> list[Guarded]:
        sealed = self.sealed()
        return [g for g in self.guarded if g.table not in sealed]

    def seal(self, tables: list[Guarded]) -> list[str]:
        """Take the rows now in `tables` as vouched for by the transaction's next event (their
        baseline, once per table); returns the tables' names."""
        if self._pending is None:
            raise RuntimeError("sealing runs inside a write transaction")
        for guard in tables:
            total = rows_sum(self._db, guard)
            if total:
                self._pending[guard.table] = (total, 0)
        names = sorted(self.sealed() | {g.table for g in tables})
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('guarded', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(names),),
        )
        return [g.table for g in tables]

    def seal_unsealed(self) -> None:
        """A bank made before some table was guarded: record its rows as the baseline."""
        if not self.unsealed():
            return
        with self._db.transaction():
            # Asked again under the write lock: another process may have sealed meanwhile.
            fresh = self.unsealed()
            if fresh:
                self.record("system", "bank.seal", {"sealed": self.seal(fresh)})

    # -- reading ----------------------------------------------------------------------------
    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the last event; (0, GENESIS) before the first."""
        row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def events(self, *, after: int = 0) -> Iterator[AuditEvent]:
        """The events after sequence `after`, oldest first, streamed."""
        cursor = self._db.execute(
            "SELECT seq, at, actor, action, detail, prev, hash FROM audit WHERE seq > ?"
            " ORDER BY seq",
            (after,),
        )
        while rows := cursor.fetchmany(1000):
            for seq, at, actor, action, detail, prev, digest in rows:
                yield AuditEvent(int(seq), at, actor, action, json.loads(detail), prev, digest)

    def history(self, entry_id: int) -> list[AuditEvent]:
        """The events that name the entry, or that made its current version (an addition of
        more than 20 entries names only their range), oldest first."""
        row = self._db.execute("SELECT version FROM entries WHERE id = ?", (entry_id,)).fetchone()
        version = None if row is None else int(row[0])
        return [e for e in self.events() if names_entry(e.detail, entry_id) or e.seq == version]
