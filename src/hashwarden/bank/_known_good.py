"""Known-good sets: signals of content known not to be of interest (an operating system's
files, a platform's own known false positives). A match in one is shown, never reported.
What is added is digested into the audit event (`kg_plus`), so verify covers the sets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from hashwarden._sql import Database
from hashwarden._time import utc_now
from hashwarden.bank._audit import MOD, SqlAudit
from hashwarden.bank._rows import chunks
from hashwarden.signals.base import Signal

__all__ = ["SqlKnownGood", "known_good_digest"]


def known_good_digest(kind: str, value: str, set_name: str) -> int:
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


class SqlKnownGood:
    """The known-good sets of one bank (implements `KnownGoodStore`)."""

    def __init__(self, db: Database, audit: SqlAudit) -> None:
        self._db = db
        self._audit = audit

    def add(
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
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT id FROM known_good_sets WHERE name = ?", (set_name,)
            ).fetchone()
            if row:
                set_id = int(row[0])
            else:
                set_id = int(
                    db.execute(
                        "INSERT INTO known_good_sets(name, source, added) VALUES (?,?,?)"
                        " RETURNING id",
                        (set_name, source, utc_now()),
                    ).fetchone()[0]
                )
            for batch in _batched(signals, 20_000):
                fresh = self._new(set_id, batch)
                db.executemany(
                    "INSERT INTO known_good(kind, value, set_id) VALUES (?,?,?)",
                    [(k, v, set_id) for k, v in fresh],
                )
                added += len(fresh)
                for kind, value in fresh:
                    plus = (plus + known_good_digest(kind, value, set_name)) % MOD
            self._audit.record(
                actor,
                "known_good.add",
                {
                    "set": set_name,
                    "count": added,
                    "kg_plus": f"{plus:064x}",
                },
            )
        return added

    def _new(self, set_id: int, batch: list[Signal]) -> list[tuple[str, str]]:
        """The batch's distinct signals not yet in the set."""
        wanted = sorted({(s.kind, s.value) for s in batch})
        present: set[tuple[str, str]] = set()
        for kind in {k for k, _ in wanted}:
            values = [v for k, v in wanted if k == kind]
            for chunk in chunks(values):
                marks = ",".join("?" * len(chunk))
                present.update(
                    (kind, v)
                    for (v,) in self._db.execute(
                        f"SELECT value FROM known_good WHERE set_id = ? AND kind = ?"
                        f" AND value IN ({marks})",
                        [set_id, kind, *chunk],
                    )
                )
        return [pair for pair in wanted if pair not in present]

    def signals(self, kind: str, *, limit: int = -1) -> Iterator[tuple[str, str]]:
        """(value, set name) of every known-good signal of a kind (at most `limit`), streamed."""
        cursor = self._db.execute(
            "SELECT k.value, s.name FROM known_good k JOIN known_good_sets s ON s.id = k.set_id"
            " WHERE k.kind = ? LIMIT ?",
            (kind, limit if limit >= 0 else 2**62),
        )
        while rows := cursor.fetchmany(10_000):
            for value, name in rows:
                yield str(value), str(name)

    def lookup(self, kind: str, values: Iterable[str]) -> dict[str, str]:
        """Which of these values are in a known-good set, and which set."""
        found: dict[str, str] = {}
        for chunk in chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            for value, name in self._db.execute(
                "SELECT k.value, s.name FROM known_good k JOIN known_good_sets s ON s.id = k.set_id"
                f" WHERE k.kind = ? AND k.value IN ({marks})",
                [kind, *chunk],
            ):
                found[value] = name
        return found

    def sets(self) -> dict[str, int]:
        """Set name -> how many signals it holds."""
        rows = self._db.execute(
            "SELECT s.name, COUNT(k.value) FROM known_good_sets s"
            " LEFT JOIN known_good k ON k.set_id = s.id GROUP BY s.name ORDER BY s.name"
        )
        return {str(name): int(n) for name, n in rows.fetchall()}

    def digest_sum(self) -> int:
        """Sum of the digests of every known-good signal (what the audit log vouches for)."""
        total = 0
        for kind, value, name in self._db.execute(
            "SELECT k.kind, k.value, s.name FROM known_good k JOIN known_good_sets s"
            " ON s.id = k.set_id"
        ):
            total = (total + known_good_digest(kind, value, name)) % MOD
        return total
