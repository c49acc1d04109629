"""`bank verify`: the audit chain unbroken, each entry matching its digest, and the entries,
known-good sets and guarded tables adding up to what the log recorded."""

from __future__ import annotations

import json

from hashwarden._sql import Database
from hashwarden.bank._audit import GENESIS, MOD, SqlAudit, event_hash, rows_sum
from hashwarden.bank._entries import SqlEntries
from hashwarden.bank._known_good import SqlKnownGood
from hashwarden.bank.base import VerifyReport, entry_digest

__all__ = ["verify"]


def verify(
    db: Database, audit: SqlAudit, entries: SqlEntries, known_good: SqlKnownGood
) -> VerifyReport:
    """Check the audit chain, each entry against its digest, and the bank (entries,
    known-good sets, guarded tables) against the log."""
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 1
    plus = minus = kg_plus = 0
    # Per guarded table: net sum of the row digests the log vouches for; sealing events.
    logged: dict[str, int] = {}
    seals: dict[str, list[int]] = {}
    events = 0
    for seq, at, actor, action, text, prev, digest in db.execute(
        "SELECT seq, at, actor, action, detail, prev, hash FROM audit ORDER BY seq"
    ):
        events += 1
        if seq != expected_seq:
            problems.append(f"audit event {expected_seq} is missing (next is {seq})")
        if prev != expected_prev:
            problems.append(f"audit event {seq}: its link to event {seq - 1} is broken")
        if event_hash(prev, seq, at, actor, action, text) != digest:
            problems.append(f"audit event {seq} ({action} at {at}) was altered")
        try:
            detail = json.loads(text)
            plus = (plus + int(str(detail.get("plus", GENESIS)), 16)) % MOD
            minus = (minus + int(str(detail.get("minus", GENESIS)), 16)) % MOD
            kg_plus = (kg_plus + int(str(detail.get("kg_plus", GENESIS)), 16)) % MOD
            for table in detail.get("sealed", []):
                seals.setdefault(str(table), []).append(int(seq))
            for table, (row_plus, row_minus) in detail.get("rows", {}).items():
                net = int(row_plus, 16) - int(row_minus, 16)
                logged[table] = (logged.get(table, 0) + net) % MOD
        except (ValueError, AttributeError, TypeError):
            problems.append(f"audit event {seq} has an unreadable detail")
        expected_prev, expected_seq = digest, seq + 1

    count = 0
    actual = 0
    for entry in entries.all():
        count += 1
        stored = db.execute("SELECT digest FROM entries WHERE id = ?", (entry.id,)).fetchone()[0]
        if entry_digest(entry.id, entry, entry.added) != stored:
            problems.append(f"entry {entry.id} was changed outside hashwarden")
        actual = (actual + int(stored, 16)) % MOD
    if (plus - minus) % MOD != actual:
        problems.append(
            "the entries do not add up to what the audit log recorded: rows were inserted,"
            " deleted or re-digested outside hashwarden"
        )
    if known_good.digest_sum() != kg_plus:
        problems.append("the known-good sets do not match what the audit log recorded")
    vouched = {g.table for g in audit.guarded}
    for table, sealed_in in sorted(seals.items()):
        if table not in vouched:  # read-only: the seal marker lost a table the log sealed
            problems.append(
                f"{table} was sealed by audit event {sealed_in[0]} but the bank no longer"
                " lists it as guarded: its seal marker was changed outside hashwarden"
            )
    for guard in audit.guarded:
        sealed_in = seals.get(guard.table, [])
        if not sealed_in:
            problems.append(
                f"{guard.table} is not covered by the audit log yet: open the bank once for writing"
            )
        elif len(sealed_in) > 1:
            events_text = ", ".join(str(s) for s in sealed_in)
            problems.append(
                f"{guard.table} was sealed more than once (audit events {events_text}):"
                " rows changed outside hashwarden may have been taken as a new baseline"
            )
        if rows_sum(db, guard) != logged.get(guard.table, 0):
            problems.append(
                f"{guard.table} changed outside hashwarden: its rows do not add up to what"
                " the audit log recorded"
            )
    return VerifyReport(events=events, entries=count, guarded=len(audit.guarded), problems=problems)
