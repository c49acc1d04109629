"""The report queue: drafts of what a CyberTipline-style report carries, written when a rule
asks for one, for a reviewer to confirm or reject (who and when are kept, and audited)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hashwarden._time import utc_now
from hashwarden.bank.categories import most_severe
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.service.actions._tables import Tables
from hashwarden.service.actions.votes import VoteOutbox, matched_entries
from hashwarden.service.decisions import decide_once

__all__ = ["Decision", "Report", "ReportQueue", "ReportStatus"]

ReportStatus = Literal["pending", "confirmed", "rejected"]
Decision = Literal["confirmed", "rejected"]

_COLUMNS = (
    "id, event, created, incident_time, uploader_ref, hashes, category, matches, rules,"
    " status, reviewer, reviewed, review_note"
)


@dataclass(frozen=True)
class Report:
    """A report draft: what a CyberTipline-style report carries, awaiting a reviewer."""

    id: int
    event: str
    #: When the service saw the match.
    created: str
    #: When the platform says the upload happened (None if it did not say).
    incident_time: str | None
    #: The platform's own reference to the uploader, as it sent it.
    uploader_ref: str | None
    hashes: dict[str, str]
    #: The most severe category among the matched entries.
    category: str
    #: The matched entries: entry, kind, value, distance, category, banks, ...
    matches: list[dict[str, Any]]
    #: Ids of the rules that asked for this report.
    rules: list[int]
    status: ReportStatus
    reviewer: str | None
    reviewed: str | None
    review_note: str | None


class ReportQueue:
    """Report drafts in the bank's `action_reports` table."""

    def __init__(self, tables: Tables, votes: VoteOutbox | None = None) -> None:
        self.tables = tables
        #: Where a decision on entries that programmes brought queues their votes.
        self.votes = votes

    def draft(
        self,
        conn: Any,
        *,
        event: str,
        created: str,
        incident_time: str | None,
        uploader_ref: str | None,
        hashes: Mapping[str, str],
        matches: Sequence[dict[str, Any]],
        rules: list[int],
    ) -> int:
        """Write one draft inside the caller's transaction: each matched (entry, kind) once,
        nearest first; its category the most severe of theirs."""
        unique = {(m["entry"], m["kind"]): m for m in matches}
        found = sorted(unique.values(), key=lambda m: (m["distance"], m["entry"]))
        row = conn.execute(
            "INSERT INTO action_reports(event, created, incident_time, uploader_ref,"
            " hashes, category, matches, rules) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
            (
                event,
                created,
                incident_time,
                uploader_ref,
                json.dumps(dict(hashes), sort_keys=True),
                most_severe([m["category"] for m in found]),
                json.dumps(found, sort_keys=True),
                json.dumps(rules),
            ),
        ).fetchone()
        return int(row[0])

    def page(
        self, *, status: ReportStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Report]:
        """Report drafts oldest first, optionally of one status; page with `after` (an id)."""
        statuses = ("pending", "confirmed", "rejected")
        rows = self.tables.page("action_reports", _COLUMNS, statuses, status, after, limit)
        return [_report(r) for r in rows]

    def get(self, report_id: int) -> Report:
        rows = self.tables.read(f"SELECT {_COLUMNS} FROM action_reports WHERE id = ?", (report_id,))
        if not rows:
            raise NotFoundError(f"no report {report_id}")
        return _report(rows[0])

    def review(
        self, report_id: int, decision: Decision, *, reviewer: str, note: str | None = None
    ) -> Report:
        """Confirm or reject a pending draft, keeping who decided and when (audited); the
        programmes that brought its matched entries get their vote in the same transaction."""
        if decision not in ("confirmed", "rejected"):
            raise UsageError(f"a review decides confirmed or rejected, not {decision!r}")
        who = reviewer.strip()
        if not who:
            raise UsageError("a review needs the reviewer's name")
        bank = self.tables.bank
        now = utc_now()
        with self.tables.tx() as conn, bank.audit.tracked("action_reports", "id = ?", (report_id,)):
            changes = {
                "status": decision,
                "reviewer": who,
                "reviewed": now,
                "review_note": note,
            }
            decide_once(conn, "action_reports", "report", report_id, ("pending",), changes)
            votes = 0
            if self.votes is not None:
                (matches,) = conn.execute(
                    "SELECT matches FROM action_reports WHERE id = ?", (report_id,)
                ).fetchone()
                votes = self.votes.queue(
                    conn,
                    report_id,
                    matched_entries(str(matches)),
                    up=decision == "confirmed",
                    now=now,
                )
            # one event vouches for the decision and the votes it queued
            action = "report.confirm" if decision == "confirmed" else "report.reject"
            bank.audit.record(who, action, {"id": report_id, **({"votes": votes} if votes else {})})
        return self.get(report_id)


def _report(row: Sequence[Any]) -> Report:
    return Report(
        id=int(row[0]),
        event=str(row[1]),
        created=str(row[2]),
        incident_time=row[3],
        uploader_ref=row[4],
        hashes=dict(json.loads(row[5])),
        category=str(row[6]),
        matches=list(json.loads(row[7])),
        rules=[int(r) for r in json.loads(row[8])],
        status=row[9],
        reviewer=row[10],
        reviewed=row[11],
        review_note=row[12],
    )
