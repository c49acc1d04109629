"""Endpoint agents' alerts and heartbeats: what `hashwarden watch` reports to the service.

An alert says that a file on a company's computer matched the bank: the host, the OS user
owning the file, its path, size, times and hashes, the matches and the versions of the agent
and its bank. Never the file, never a thumbnail. An alert is stored once however often it is
sent: it carries an idempotency key, and a second alert under a key already stored is answered
with the first (200) instead of a new row (201). A new alert runs the action rules (a webhook
to the SOC's SIEM, a report draft) like a match does, and adds a statistics event (channel
`device`, without path or host).

Agents post with keys of the `agent` role, which may do nothing else; reviewers (and admins)
list alerts and agents and acknowledge or close alerts with a note, audited. An alert's
decision columns are guarded like report decisions (`bank verify`). The routes are in
`routes/alerts.py`; this module is the store and its models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from hashwarden._time import utc_now, utc_text
from hashwarden.bank.categories import most_severe, parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.index.matcher import Match
from hashwarden.service.banks import DEFAULT_BANK, BankMatch
from hashwarden.service.decisions import decide_once
from hashwarden.signals.builtin import default_registry

__all__ = [
    "AgentOut",
    "AlertIn",
    "AlertOut",
    "AlertStatus",
    "AlertStore",
    "AlertStored",
    "DecisionIn",
    "HeartbeatIn",
    "When",
    "bank_matches",
    "device_event",
    "stamp",
]

AlertStatus = Literal["open", "acknowledged", "closed"]
STATUSES: tuple[str, ...] = ("open", "acknowledged", "closed")
#: An agent is silent when no heartbeat came for this many of its own intervals ...
SILENT_INTERVALS = 3
#: ... and at least this many seconds.
SILENT_AT_LEAST_S = 30.0
#: Hash kinds an alert may carry for the file (the agent computes these).
ALERT_HASH_KINDS = ("md5", "sha1", "sha256", "pdq")

_ALERT_COLUMNS = (
    "id, agent, key_name, host, os_user, path, size, times, hashes, sha256, matches, category,"
    " noticed_by, agent_version, bank_version, detected, received, status, decided_by, decided,"
    " note"
)
_AGENT_COLUMNS = (
    "agent, key_name, host, agent_version, bank_version, interval_s, first_seen,"
    " last_heartbeat, report"
)


def stamp(moment: datetime) -> str:
    """The bank's timestamp format (`_time`); a time without an offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_text(moment)


def _when(moment: datetime) -> datetime:
    """A time that fits the bank's format once in UTC (years 1 to 9999)."""
    try:
        stamp(moment)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the time is outside years 1 to 9999 once turned to UTC") from exc
    return moment


When = Annotated[datetime, AfterValidator(_when)]
Text = Annotated[str, Field(max_length=200)]


class MatchIn(BaseModel):
    """One match as the agent found it in its local bank."""

    entry: int = Field(ge=0, le=2**62, description="The entry's id in the agent's bank.")
    kind: str = Field(min_length=1, max_length=32)
    value: str = Field(default="", max_length=1000, description="The banked hash matched.")
    distance: int = Field(ge=0, le=256)
    category: str = Field(max_length=64)
    series: str | None = Field(default=None, max_length=200)
    victim_identified: bool = False
    orientation: str = Field(default="original", max_length=32)
    query_match: float | None = Field(default=None, ge=0, le=100)
    compared_match: float | None = Field(default=None, ge=0, le=100)


class FileTimes(BaseModel):
    modified: When | None = None
    changed: When | None = None
    created: When | None = None


class AlertIn(BaseModel):
    """A file that matched, as the agent reports it (never its content)."""

    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9_.:-]{16,128}$")
    agent: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=255)
    user: str | None = Field(default=None, max_length=256, description="OS user owning the file")
    path: str = Field(min_length=1, max_length=4096)
    size: int | None = Field(default=None, ge=0, le=2**62)
    times: FileTimes = Field(default_factory=FileTimes)
    hashes: dict[str, str] = Field(min_length=1, max_length=len(ALERT_HASH_KINDS))
    matches: list[MatchIn] = Field(min_length=1, max_length=100)
    noticed_by: Literal["watch", "sweep", "media"] | None = None
    agent_version: Text | None = None
    bank_version: Text | None = None
    detected: When | None = None


class AlertOut(BaseModel):
    id: int
    agent: str
    key_name: str
    host: str
    user: str | None
    path: str
    size: int | None
    times: dict[str, str | None]
    sha256: str | None
    hashes: dict[str, str]
    #: As the agent sent them, with `central_entry`: the entry's id in this bank (None when
    #: this bank does not hold the banked hash).
    matches: list[dict[str, Any]]
    category: str
    noticed_by: str | None
    agent_version: str | None
    bank_version: str | None
    detected: str | None
    received: str
    status: AlertStatus
    decided_by: str | None
    decided: str | None
    note: str | None


class AlertStored(BaseModel):
    id: int
    duplicate: bool


class HeartbeatIn(BaseModel):
    agent: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=255)
    agent_version: Text | None = None
    bank_version: Text | None = None
    interval_s: float = Field(default=60.0, ge=1, le=86_400)
    #: What the agent says of itself: counts and states (no paths).
    report: dict[str, int | float | str | bool | None] = Field(default_factory=dict, max_length=50)


class AgentOut(BaseModel):
    agent: str
    key_name: str
    host: str
    agent_version: str | None
    bank_version: str | None
    interval_s: float
    first_seen: str
    last_heartbeat: str
    silent: bool
    silent_for_s: float
    report: dict[str, Any]


class DecisionIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def _clean_hashes(hashes: dict[str, str]) -> dict[str, str]:
    registry = default_registry()
    clean = {}
    for kind, value in hashes.items():
        if kind not in ALERT_HASH_KINDS:
            raise UsageError(f"an alert's hashes are {', '.join(ALERT_HASH_KINDS)}, not {kind!r}")
        clean[kind] = registry.get(kind).normalize(value)
    return clean


class AlertStore:
    """The alerts and agents tables of a bank. Callers serialise use of the connection."""

    def __init__(self, bank: BankStore) -> None:
        self.bank = bank

    def add(
        self, alert: AlertIn, *, key_name: str, central: dict[tuple[str, str], int]
    ) -> tuple[AlertOut, bool]:
        """Store an alert once: (the alert, True) when new, (the stored one, False) when its
        idempotency key was stored before by the same agent and key (ConflictError if not).
        `central` maps the banked hashes matched, (kind, value), to this bank's entries."""
        hashes = _clean_hashes(alert.hashes)
        matches = []
        for m in alert.matches:
            found = m.model_dump()
            found["category"] = parse_category(m.category)
            found["central_entry"] = central.get((m.kind, m.value))
            matches.append(found)
        times = alert.times.model_dump()
        times = {k: None if v is None else stamp(v) for k, v in times.items()}
        detected = None if alert.detected is None else stamp(alert.detected)
        with self.bank.db.transaction() as conn:
            row = conn.execute(
                "INSERT INTO alerts(idempotency_key, agent, key_name, host, os_user, path, size,"
                " times, hashes, sha256, matches, category, noticed_by, agent_version,"
                " bank_version, detected, received) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (
                    alert.idempotency_key,
                    alert.agent,
                    key_name,
                    alert.host,
                    alert.user,
                    alert.path,
                    alert.size,
                    json.dumps(times, sort_keys=True),
                    json.dumps(hashes, sort_keys=True),
                    hashes.get("sha256"),
                    json.dumps(matches, sort_keys=True),
                    most_severe([m["category"] for m in matches]),
                    alert.noticed_by,
                    alert.agent_version,
                    alert.bank_version,
                    detected,
                    utc_now(),
                ),
            ).fetchone()
            if row is not None:
                alert_id = int(row[0])
                self.bank.audit.record(
                    key_name, "alert.receive", {"id": alert_id, "agent": alert.agent}
                )
        if row is not None:
            return self.get(alert_id), True
        rows = self.bank.db.query(
            "SELECT id, agent, key_name FROM alerts WHERE idempotency_key = ?",
            (alert.idempotency_key,),
        )
        if not rows:  # cannot happen: the conflicting row is never deleted
            raise ConflictError("the alert's idempotency key clashed; send it again")
        alert_id, agent, owner = rows[0]
        if agent != alert.agent or owner != key_name:
            raise ConflictError("this idempotency key belongs to another agent's alert")
        return self.get(int(alert_id)), False

    def get(self, alert_id: int) -> AlertOut:
        rows = self.bank.db.query(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        if not rows:
            raise NotFoundError(f"no alert {alert_id}")
        return self._alert(rows[0])

    def find(
        self,
        *,
        agent: str | None = None,
        host: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[AlertOut]:
        """Alerts oldest first, filtered; `since`/`until` bound the time received."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"an alert's status is one of {', '.join(STATUSES)}, not {status!r}")
        if not 1 <= limit <= 1000:
            raise UsageError("limit must be between 1 and 1000")
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id > ?"
        params: list[Any] = [after]
        for column, op, value in (
            ("agent", "=", agent),
            ("host", "=", host),
            ("status", "=", status),
            ("received", ">=", since),
            ("received", "<", until),
        ):
            if value is not None:
                sql += f" AND {column} {op} ?"
                params.append(value)
        params.append(limit)
        return [self._alert(r) for r in self.bank.db.query(sql + " ORDER BY id LIMIT ?", params)]

    def decide(
        self,
        alert_id: int,
        decision: Literal["acknowledged", "closed"],
        *,
        who: str,
        note: str | None,
    ) -> AlertOut:
        """Acknowledge an open alert, or close an open or acknowledged one (audited with the
        decider's name; a closed alert stays closed: 409)."""
        allowed = ("open",) if decision == "acknowledged" else ("open", "acknowledged")
        changes = {"status": decision, "decided_by": who, "decided": utc_now(), "note": note}
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("alerts", "id = ?", (alert_id,)),
        ):
            decide_once(conn, "alerts", "alert", alert_id, allowed, changes)
            action = "alert.acknowledge" if decision == "acknowledged" else "alert.close"
            self.bank.audit.record(who, action, {"id": alert_id})
        return self.get(alert_id)

    def heartbeat(self, beat: HeartbeatIn, *, key_name: str) -> None:
        now = utc_now()
        with self.bank.db.transaction() as conn:
            conn.execute(
                "INSERT INTO agents(agent, key_name, host, agent_version, bank_version,"
                " interval_s, first_seen, last_heartbeat, report) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (agent) DO UPDATE SET key_name = excluded.key_name,"
                " host = excluded.host, agent_version = excluded.agent_version,"
                " bank_version = excluded.bank_version, interval_s = excluded.interval_s,"
                " last_heartbeat = excluded.last_heartbeat, report = excluded.report",
                (
                    beat.agent,
                    key_name,
                    beat.host,
                    beat.agent_version,
                    beat.bank_version,
                    beat.interval_s,
                    now,
                    now,
                    json.dumps(beat.report, sort_keys=True),
                ),
            )

    def agents(self, *, now: datetime | None = None) -> list[AgentOut]:
        """Every agent that ever reported, by name, each flagged silent when its heartbeats
        stopped (none for `SILENT_INTERVALS` of its intervals, and `SILENT_AT_LEAST_S`)."""
        moment = now or datetime.now(UTC)
        out = []
        for row in self.bank.db.query(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY agent"):
            agent, key, host, version, bank_version, interval, first, last, report = row
            last_at = datetime.fromisoformat(str(last).replace("Z", "+00:00"))
            quiet = (moment - last_at).total_seconds()
            allowed = max(SILENT_INTERVALS * float(interval), SILENT_AT_LEAST_S)
            out.append(
                AgentOut(
                    agent=str(agent),
                    key_name=str(key),
                    host=str(host),
                    agent_version=version,
                    bank_version=bank_version,
                    interval_s=float(interval),
                    first_seen=str(first),
                    last_heartbeat=str(last),
                    silent=quiet > allowed,
                    silent_for_s=round(max(0.0, quiet), 1),
                    report=dict(json.loads(report)),
                )
            )
        return out

    @staticmethod
    def _alert(row: Sequence[Any]) -> AlertOut:
        return AlertOut(
            id=int(row[0]),
            agent=str(row[1]),
            key_name=str(row[2]),
            host=str(row[3]),
            user=row[4],
            path=str(row[5]),
            size=None if row[6] is None else int(row[6]),
            times=dict(json.loads(row[7])),
            hashes=dict(json.loads(row[8])),
            sha256=row[9],
            matches=list(json.loads(row[10])),
            category=str(row[11]),
            noticed_by=row[12],
            agent_version=row[13],
            bank_version=row[14],
            detected=row[15],
            received=str(row[16]),
            status=row[17],
            decided_by=row[18],
            decided=row[19],
            note=row[20],
        )


def bank_matches(
    alert: AlertOut, memberships: dict[int, list[tuple[str, str | None]]]
) -> list[BankMatch]:
    """The alert's matches as the action rules take them: this bank's entry (0 when it does
    not hold the banked hash) in its named banks, or the default bank."""
    found = []
    for m in alert.matches:
        entry = m.get("central_entry") or 0
        match = Match(
            entry,
            m["kind"],
            m["value"],
            m["distance"],
            m["category"],
            m["series"],
            m["victim_identified"],
            m["orientation"],
            m.get("query_match"),
            m.get("compared_match"),
        )
        banks = [name for name, _ in memberships.get(entry, [])] or [DEFAULT_BANK]
        found.append(BankMatch(match, banks))
    return found


def device_event(alert: AlertOut) -> tuple[Any, ...]:
    """The statistics event of a new alert (the columns of `bank.events`, as
    reports/statistics.py records them): channel `device`, the closest match's category and
    series; no path, no host, no user."""
    best = min(alert.matches, key=lambda m: (m["distance"], m["entry"]))
    return (
        alert.received,
        "device",
        "known",
        best["category"],
        best["series"],
        int(bool(best["victim_identified"])),
        None,
        1,
    )
