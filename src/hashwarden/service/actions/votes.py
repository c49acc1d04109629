"""Programme votes: a reviewed report draft whose matched entries came from a hash-sharing
programme (an exchange: NCMEC, ThreatExchange, a file...) tells that programme the verdict, an
up-vote for a confirmation and a down-vote for a rejection (a false positive).

The votes are written in the review's own transaction, one per (draft, exchange, record,
kind), so a decision and its votes are never apart, and sent by the webhook worker like the
outbox's deliveries: claimed one at a time with a lease, retried after the backoff, recorded
once delivered (then never sent again) or failed for good. The programme's credentials are
read when a vote is sent, from where the exchange's configuration says, and never logged."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from hashwarden._time import utc_text
from hashwarden.errors import HashwardenError, UsageError
from hashwarden.exchange.programmes import ProgrammeExchanges, votable
from hashwarden.service.actions._tables import OutboxTable, Tables
from hashwarden.signals.base import Signal

__all__ = ["Vote", "VoteOutbox", "VoteStatus"]

log = logging.getLogger("hashwarden.service.actions")

VoteStatus = Literal["pending", "delivered", "failed"]
_TABLE: OutboxTable = "programme_votes"
_COLUMNS = (
    "id, report_id, exchange, record, kind, value, vote, status, attempts, next_attempt,"
    " last_error, created, delivered"
)


@dataclass(frozen=True)
class Vote:
    """One vote for a programme: on the programme's record `record` (its signal `kind`
    `value`), `up` (the draft was confirmed) or `down` (rejected)."""

    id: int
    report: int
    exchange: str
    record: str
    kind: str
    value: str
    vote: str
    status: VoteStatus
    attempts: int
    next_attempt: str
    last_error: str | None
    created: str
    delivered: str | None


class _Claimed(NamedTuple):
    id: int
    exchange: str
    record: str
    signal: Signal
    up: bool
    attempts: int


class VoteOutbox:
    """The votes in the bank's `programme_votes` table (a bank from before it has none)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._has_table: bool | None = None

    def _ready(self, *, locked: bool = False) -> bool:
        """Whether the bank has the table (`locked`: the caller holds the tables' lock)."""
        if not self._has_table:
            if locked:
                self._has_table = self.tables.bank.db.has_table("programme_votes")
            else:
                with self.tables.lock:
                    self._has_table = self.tables.bank.db.has_table("programme_votes")
        return self._has_table

    def queue(self, conn: Any, report_id: int, entry_ids: list[int], *, up: bool, now: str) -> int:
        """Inside the review's transaction, before its audit event (which vouches for them): a
        vote for each programme record behind these entries (its signal among the entry's);
        returns how many were queued."""
        if not entry_ids or not self._ready(locked=True):
            return 0
        marks = ",".join("?" * len(entry_ids))
        rows = conn.execute(
            "SELECT r.exchange, r.record, s.kind, s.value FROM programme_records r"
            " JOIN signals s ON s.entry_id = r.entry_id"
            f" WHERE r.entry_id IN ({marks}) ORDER BY r.exchange, r.record, s.kind",
            list(entry_ids),
        ).fetchall()
        queued = 0
        # The caller's next audit event vouches for the votes (`bank verify` names one changed
        # behind the log).
        with self.tables.bank.audit.tracked_appends(_TABLE):
            for exchange, record, kind, value in rows:
                if not votable(str(record), Signal(str(kind), str(value))):
                    continue
                row = conn.execute(
                    "INSERT INTO programme_votes(report_id, exchange, record, kind, value, vote,"
                    " next_attempt, created) VALUES (?,?,?,?,?,?,?,?)"
                    " ON CONFLICT DO NOTHING RETURNING id",
                    (report_id, exchange, record, kind, value, "up" if up else "down", now, now),
                ).fetchone()
                queued += row is not None
        return queued

    def page(self, *, status: VoteStatus | None = None) -> list[Vote]:
        """The votes oldest first, optionally of one status."""
        if status not in (None, "pending", "delivered", "failed"):
            raise UsageError(f"unknown vote status {status!r}")
        if not self._ready():
            return []
        sql = f"SELECT {_COLUMNS} FROM programme_votes"
        rows = self.tables.read(
            sql + (" WHERE status = ? ORDER BY id" if status else " ORDER BY id"),
            (status,) if status else (),
        )
        return [
            Vote(
                id=int(r[0]),
                report=int(r[1]),
                exchange=str(r[2]),
                record=str(r[3]),
                kind=str(r[4]),
                value=str(r[5]),
                vote=str(r[6]),
                status=r[7],
                attempts=int(r[8]),
                next_attempt=str(r[9]),
                last_error=r[10],
                created=str(r[11]),
                delivered=r[12],
            )
            for r in rows
        ]

    def next_due(self) -> float | None:
        """Seconds until the earliest pending vote is due (0 if overdue), None if none."""
        return self.tables.next_due(_TABLE) if self._ready() else None

    def claim(self) -> _Claimed | None:
        """Take the next due vote: count the attempt and lease it past the send's time limit,
        so no other worker or replica sends it meanwhile; a vote out of attempts (its worker
        stopped mid-send) fails."""
        if not self._ready():
            return None
        settings = self.tables.settings
        while True:
            now = datetime.now(UTC)
            lease = utc_text(now + timedelta(seconds=settings.timeout_s + 60))
            with self.tables.tx() as conn:
                row = conn.execute(
                    "SELECT id, exchange, record, kind, value, vote, attempts"
                    " FROM programme_votes WHERE status = 'pending' AND next_attempt <= ?"
                    " ORDER BY next_attempt, id LIMIT 1",
                    (utc_text(now),),
                ).fetchone()
                if row is None:
                    return None
                vote_id, exchange, record, kind, value, vote, attempts = row
                if int(attempts) >= settings.max_attempts:
                    given_up = f"no answer recorded after {attempts} attempts"
                    self.tables.mark_failed(conn, _TABLE, vote_id, given_up)
                    continue
                conn.execute(
                    "UPDATE programme_votes SET attempts = ?, next_attempt = ? WHERE id = ?",
                    (int(attempts) + 1, lease, vote_id),
                )
            return _Claimed(
                int(vote_id),
                str(exchange),
                str(record),
                Signal(str(kind), str(value)),
                vote == "up",
                int(attempts) + 1,
            )

    def attempt(self, claimed: _Claimed) -> None:
        """Send one vote and record the outcome: delivered, retried after the backoff, or
        failed for good (the programme takes no such vote, or out of attempts)."""
        settings = self.tables.settings
        exchanges = ProgrammeExchanges(self.tables.bank)
        error: str | None = None
        final = False
        try:
            with self.tables.lock:
                exchange = exchanges.get(claimed.exchange)
            exchanges.cast_vote(exchange, claimed.record, claimed.signal, confirm=claimed.up)
        except UsageError as exc:  # no such vote, no credentials: retrying will not help
            error, final = str(exc), True
        except HashwardenError as exc:
            error = str(exc)
        except Exception as exc:  # any failure to send is this vote's error, kept below
            error = f"{type(exc).__name__}: {exc}"
        with self.tables.tx() as conn:
            if error is None:
                self.tables.mark_delivered(conn, _TABLE, claimed.id)
                self.tables.bank.audit.record(
                    f"exchange:{claimed.exchange}",
                    "exchange.vote",
                    {"id": claimed.id, "record": claimed.record, "up": claimed.up},
                )
                return
            error = error[:500]
            final = final or claimed.attempts >= settings.max_attempts
            if final:
                self.tables.mark_failed(conn, _TABLE, claimed.id, error)
            else:
                self.tables.retry_later(conn, _TABLE, claimed.id, error, claimed.attempts)
        log.warning(
            "vote %d to exchange %s attempt %d failed%s: %s",
            claimed.id,
            claimed.exchange,
            claimed.attempts,
            " for good" if final else "",
            error,
        )


def matched_entries(matches_json: str) -> list[int]:
    """The entry ids of a report draft's stored matches."""
    return sorted({int(m["entry"]) for m in json.loads(matches_json)})
