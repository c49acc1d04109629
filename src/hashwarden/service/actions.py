"""Actions on a match: signed webhooks to the platform and a report queue for the authorities.

Rules map a match (bank, category, distance) to actions. A webhook is written to a durable
outbox in the bank in the same transaction as the report draft, then sent by a background
worker with retries and exponential backoff, so the HTTP answer never waits for a receiver and
a restart loses nothing: a pending delivery is picked up by the next worker. Report drafts hold
what a CyberTipline-style report carries, for a reviewer to confirm or reject.

Nothing of the uploaded content is stored: only its hashes and the metadata the platform sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import secrets
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from hashwarden._time import parse_utc, utc_now, utc_text
from hashwarden.bank.categories import most_severe, parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.index.matcher import Match
from hashwarden.service.banks import DEFAULT_BANK, BankMatch
from hashwarden.service.webhook_targets import (
    REFUSED,
    Resolver,
    TargetPolicy,
    TargetRefused,
    hide_urls_in_httpx_log,
    pinned_transport,
    redact_url,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ActionEngine",
    "Delivery",
    "DeliverySettings",
    "NewRule",
    "Report",
    "Rule",
    "Triggered",
    "WebhookWorker",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hashwarden-Signature"
TIMESTAMP_HEADER = "X-Hashwarden-Timestamp"
DELIVERY_HEADER = "X-Hashwarden-Delivery"
EVENT_HEADER = "X-Hashwarden-Event"

ReportStatus = Literal["pending", "confirmed", "rejected"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
Decision = Literal["confirmed", "rejected"]

_MAX_LIMIT = 1000
_RULE_COLUMNS = "id, name, bank, categories, max_distance, webhook_url, report, enabled, created"
_REPORT_COLUMNS = (
    "id, event, created, incident_time, uploader_ref, hashes, category, matches, rules,"
    " status, reviewer, reviewed, review_note"
)
_DELIVERY_COLUMNS = (
    "id, rule_id, event, url, status, attempts, next_attempt, last_error, created, delivered"
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256, keyed by the rule's secret, over
    `timestamp + "." + body`; signing the timestamp stops a captured request being replayed
    later under a fresh one."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class DeliverySettings:
    """How webhooks are sent: attempt `n` failing waits `backoff_s * 2**(n-1)` (at most
    `max_backoff_s`) before the next; after `max_attempts` the delivery is marked failed."""

    max_attempts: int = 8
    backoff_s: float = 2.0
    max_backoff_s: float = 3600.0
    timeout_s: float = 10.0
    #: How often the worker looks at the outbox when nothing wakes it (other replicas' work).
    poll_s: float = 5.0
    queue_size: int = 1000
    #: How long the engine trusts its copy of the rules: a rule added or removed through
    #: another worker or replica applies within this time.
    rules_ttl_s: float = 1.0
    #: Use HTTP(S)_PROXY from the environment for webhooks.
    trust_env: bool = True
    #: Internal receivers allowed besides public addresses (`HASHWARDEN_WEBHOOK_ALLOW`).
    targets: TargetPolicy = field(default_factory=TargetPolicy)

    @classmethod
    def from_env(cls) -> DeliverySettings:
        """Reads `HASHWARDEN_WEBHOOK_*` variables."""
        env = os.environ.get
        return cls(
            max_attempts=int(env("HASHWARDEN_WEBHOOK_MAX_ATTEMPTS", cls.max_attempts)),
            backoff_s=float(env("HASHWARDEN_WEBHOOK_BACKOFF_S", cls.backoff_s)),
            max_backoff_s=float(env("HASHWARDEN_WEBHOOK_MAX_BACKOFF_S", cls.max_backoff_s)),
            timeout_s=float(env("HASHWARDEN_WEBHOOK_TIMEOUT_S", cls.timeout_s)),
            targets=TargetPolicy.parse(env("HASHWARDEN_WEBHOOK_ALLOW", "")),
        )

    def backoff(self, attempts: int) -> float:
        return float(min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s))


@dataclass(frozen=True)
class NewRule:
    """A rule to add. `None` for bank, categories or max_distance means any."""

    name: str
    bank: str | None = None
    categories: Sequence[str] | None = None
    max_distance: int | None = None
    webhook_url: str | None = None
    #: Generated (and returned once) when a webhook is given without one.
    webhook_secret: str | None = None
    report: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Rule:
    """A stored rule as it is shown: its webhook secret is never read back out, and its URL
    without credentials (`redact_url`)."""

    id: int
    name: str
    bank: str | None
    categories: list[str] | None
    max_distance: int | None
    webhook_url: str | None
    report: bool
    enabled: bool
    created: str

    def selects(self, match: Match, banks: Sequence[str]) -> bool:
        return (
            (self.bank is None or self.bank in banks)
            and (self.categories is None or match.category in self.categories)
            and (self.max_distance is None or match.distance <= self.max_distance)
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


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery in the outbox (its body is not shown: it holds the hashes; its URL
    is shown without credentials)."""

    id: int
    rule_id: int
    event: str
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt: str
    last_error: str | None
    created: str
    delivered: str | None


@dataclass(frozen=True)
class Triggered:
    """What one match set off."""

    event: str
    report: int | None
    deliveries: list[int]


#: A delivery's error when the send failed below HTTP: the same for a refused connection, a
#: timeout, a reset or a TLS failure, so the outbox cannot be used to scan ports.
UNREACHABLE = "no answer: could not connect or send"


def _scrub(text: str, url: str) -> str:
    """An error text as it may be logged: the URL, or any secret part of it, masked."""
    text = text.replace(url, redact_url(url))
    parts = urlsplit(url)
    hidden = [parts.netloc.rpartition("@")[0], parts.password, parts.query, parts.fragment]
    hidden += [s for s in parts.path.split("/") if s and s not in redact_url(url).split("/")]
    for secret in sorted(filter(None, hidden), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _limit(limit: int) -> int:
    if not 1 <= limit <= _MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {_MAX_LIMIT}")
    return limit


class ActionEngine:
    """Runs the rules on matches and keeps rules, report drafts and the webhook outbox in the
    bank's own tables.

    `lock` serialises this engine's use of the bank's connection with other threads sharing
    it (the service passes its matcher's lock); it is never held while a webhook is sent.
    """

    def __init__(
        self,
        bank: BankStore,
        *,
        lock: threading.Lock | None = None,
        settings: DeliverySettings | None = None,
        default_bank: str = DEFAULT_BANK,
        resolver: Resolver | None = None,
    ) -> None:
        self.bank = bank
        self.lock = lock or threading.Lock()
        self.settings = settings or DeliverySettings()
        #: The bank name a plain `Match` (one without named banks) counts in.
        self.default_bank = default_bank
        #: Wake-ups for the worker; bounded, and losing one loses nothing (the outbox has it).
        self.wakeups: queue.Queue[int] = queue.Queue(maxsize=self.settings.queue_size)
        #: (when read, enabled rules with their real URLs): a match no rule selects writes
        #: nothing.
        self._cached: tuple[float, list[tuple[Rule, str | None]]] | None = None
        hide_urls_in_httpx_log()
        #: Direct sends: each connection goes to the address checked after its one look-up.
        self._client = httpx.Client(
            timeout=self.settings.timeout_s,
            transport=pinned_transport(self.settings.targets, resolver),
            trust_env=False,
            follow_redirects=False,
        )
        #: Sends through an HTTP(S)_PROXY from the environment, one client a proxy.
        self._proxied: dict[str, httpx.Client] = {}

    def close(self) -> None:
        self._client.close()
        for client in self._proxied.values():
            client.close()

    def _client_for(self, url: str) -> httpx.Client:
        """The direct client, or the proxy's when the environment names one for this URL (the
        proxy then resolves the name: only address literals and metadata names are checked
        here, the proxy must refuse internal addresses itself)."""
        if not self.settings.trust_env:
            return self._client
        parts = urlsplit(url)
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        host = parts.hostname or ""
        if not proxy or urllib.request.proxy_bypass(host):
            return self._client
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.Client(
                timeout=self.settings.timeout_s,
                proxy=proxy,
                trust_env=False,
                follow_redirects=False,
            )
        return self._proxied[proxy]

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.lock, self.bank.db.transaction() as conn:
            yield conn

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction (no write lock, also on a read-only bank)."""
        with self.lock:
            return self.bank.db.query(sql, params)

    # -- rules -------------------------------------------------------------------------------
    def add_rule(self, rule: NewRule, *, actor: str = "api") -> tuple[Rule, str | None]:
        """Store a rule; returns it with its webhook secret (the only time it is shown)."""
        name = rule.name.strip()
        if not name:
            raise UsageError("a rule needs a name")
        if rule.webhook_url is None and not rule.report:
            raise UsageError("a rule needs an action: a webhook_url, report, or both")
        if rule.webhook_url is not None:
            self.settings.targets.check_url(rule.webhook_url)
        if rule.max_distance is not None and not 0 <= rule.max_distance <= 256:
            raise UsageError("max_distance must be between 0 and 256")
        categories = None
        if rule.categories is not None:
            categories = sorted({parse_category(c) for c in rule.categories})
            if not categories:
                raise UsageError("categories, when given, must name at least one")
        if rule.webhook_secret is not None and len(rule.webhook_secret) < 16:
            raise UsageError("webhook_secret must be at least 16 characters")
        secret = None
        if rule.webhook_url is not None:
            secret = rule.webhook_secret or secrets.token_hex(32)
        with self._tx() as conn, self.bank.audit.tracked("action_rules", "name = ?", (name,)):
            row = conn.execute(
                "INSERT INTO action_rules(name, bank, categories, max_distance, webhook_url,"
                " webhook_secret, report, enabled, created) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(name) DO NOTHING RETURNING id",
                (
                    name,
                    rule.bank,
                    None if categories is None else json.dumps(categories),
                    rule.max_distance,
                    rule.webhook_url,
                    secret,
                    int(rule.report),
                    int(rule.enabled),
                    utc_now(),
                ),
            ).fetchone()
            if row is None:
                raise ConflictError(f"a rule named {name!r} already exists")
            rule_id = int(row[0])
            self.bank.audit.record(
                actor,
                "action.rule.add",
                {
                    "id": rule_id,
                    "name": name,
                    "webhook_url": None
                    if rule.webhook_url is None
                    else redact_url(rule.webhook_url),
                },
            )
        self._cached = None
        return self.rule(rule_id), secret

    def rules(self) -> list[Rule]:
        rows = self._read(f"SELECT {_RULE_COLUMNS} FROM action_rules ORDER BY id")
        return [self._rule(r) for r in rows]

    def rule(self, rule_id: int) -> Rule:
        rows = self._read(f"SELECT {_RULE_COLUMNS} FROM action_rules WHERE id = ?", (rule_id,))
        if not rows:
            raise NotFoundError(f"no action rule {rule_id}")
        return self._rule(rows[0])

    def remove_rule(self, rule_id: int, *, actor: str = "api") -> Rule:
        """Delete a rule; its undelivered webhooks are marked failed, not dropped."""
        rule = self.rule(rule_id)
        with self._tx() as conn, self.bank.audit.tracked("action_rules", "id = ?", (rule_id,)):
            gone = conn.execute(
                "DELETE FROM action_rules WHERE id = ? RETURNING id", (rule_id,)
            ).fetchone()
            if gone is None:
                raise NotFoundError(f"no action rule {rule_id}")
            conn.execute(
                "UPDATE action_deliveries SET status = 'failed', last_error = ?"
                " WHERE rule_id = ? AND status = 'pending'",
                ("rule removed before delivery", rule_id),
            )
            self.bank.audit.record(actor, "action.rule.remove", {"id": rule_id, "name": rule.name})
        self._cached = None
        return rule

    def set_enabled(self, rule_id: int, enabled: bool, *, actor: str = "api") -> Rule:
        """Turn a rule on or off, keeping it and its secret; a rule turned on has its URL
        checked again (the allow-list may have changed since it was added)."""
        if enabled:
            rows = self._read("SELECT webhook_url FROM action_rules WHERE id = ?", (rule_id,))
            if rows and rows[0][0] is not None:
                self.settings.targets.check_url(str(rows[0][0]))
        with self._tx() as conn, self.bank.audit.tracked("action_rules", "id = ?", (rule_id,)):
            row = conn.execute(
                "UPDATE action_rules SET enabled = ? WHERE id = ? RETURNING id",
                (int(enabled), rule_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no action rule {rule_id}")
            action = "action.rule.enable" if enabled else "action.rule.disable"
            self.bank.audit.record(actor, action, {"id": rule_id})
        self._cached = None
        return self.rule(rule_id)

    @staticmethod
    def _rule(row: Sequence[Any]) -> Rule:
        return Rule(
            id=int(row[0]),
            name=str(row[1]),
            bank=row[2],
            categories=None if row[3] is None else list(json.loads(row[3])),
            max_distance=None if row[4] is None else int(row[4]),
            webhook_url=None if row[5] is None else redact_url(str(row[5])),
            report=bool(row[6]),
            enabled=bool(row[7]),
            created=str(row[8]),
        )

    # -- matching ----------------------------------------------------------------------------
    def on_match(
        self,
        matches: Sequence[BankMatch | Match],
        hashes: Mapping[str, str],
        *,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
        retro: bool = False,
    ) -> Triggered | None:
        """Run the enabled rules on one content's matches: write a report draft and queue the
        webhooks in one transaction, then wake the worker. Returns None if nothing matched;
        a match no rule selects writes nothing. `retro`: a recent look-up matched by entries
        added since (`serve --keep-recent`); its webhooks say `"retro": true`."""
        if not matches:
            return None
        event = uuid.uuid4().hex
        now = utc_now()
        incident = None if incident_time is None else utc_text(incident_time)
        report_id: int | None = None
        deliveries: list[int] = []
        enabled = self._enabled_rules()
        urls = {rule.id: url for rule, url in enabled}
        fired = [(rule, self._selected(rule, matches)) for rule, _ in enabled]
        fired = [(rule, chosen) for rule, chosen in fired if chosen]
        if not fired:
            return Triggered(event, None, [])
        reporting = [(rule, chosen) for rule, chosen in fired if rule.report]
        with self._tx() as conn:
            if reporting:
                unique = {(m["entry"], m["kind"]): m for _, chosen in reporting for m in chosen}
                found = sorted(unique.values(), key=lambda m: (m["distance"], m["entry"]))
                report_id = int(
                    conn.execute(
                        "INSERT INTO action_reports(event, created, incident_time, uploader_ref,"
                        " hashes, category, matches, rules) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                        (
                            event,
                            now,
                            incident,
                            uploader_ref,
                            json.dumps(dict(hashes), sort_keys=True),
                            most_severe([m["category"] for m in found]),
                            json.dumps(found, sort_keys=True),
                            json.dumps([rule.id for rule, _ in reporting]),
                        ),
                    ).fetchone()[0]
                )
            for rule, chosen in fired:
                url = urls[rule.id]
                if url is None:
                    continue
                body = {
                    "type": "match",
                    "event": event,
                    "at": now,
                    "rule": {"id": rule.id, "name": rule.name},
                    "incident_time": incident,
                    "uploader_ref": uploader_ref,
                    "hashes": dict(hashes),
                    "matches": chosen,
                    "report": report_id,
                }
                if retro:
                    body["retro"] = True
                row = conn.execute(
                    "INSERT INTO action_deliveries(rule_id, event, url, body, next_attempt,"
                    " created) VALUES (?,?,?,?,?,?) RETURNING id",
                    (
                        rule.id,
                        event,
                        url,
                        json.dumps(body, sort_keys=True, separators=(",", ":")),
                        now,
                        now,
                    ),
                ).fetchone()
                deliveries.append(int(row[0]))
        for delivery in deliveries:
            try:
                self.wakeups.put_nowait(delivery)
            except queue.Full:
                break  # the worker is busy and will find these in the outbox
        return Triggered(event, report_id, deliveries)

    def _enabled_rules(self) -> list[tuple[Rule, str | None]]:
        """The enabled rules, each with the real URL it sends to (shown nowhere)."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self.settings.rules_ttl_s:
            return cached[1]
        rows = self._read(f"SELECT {_RULE_COLUMNS} FROM action_rules WHERE enabled = 1 ORDER BY id")
        rules = [(self._rule(row), row[5]) for row in rows]
        self._cached = (time.monotonic(), rules)
        return rules

    def _selected(self, rule: Rule, matches: Sequence[BankMatch | Match]) -> list[dict[str, Any]]:
        chosen = []
        for found in matches:
            if isinstance(found, BankMatch):
                match, banks = found.match, found.banks
            else:
                match, banks = found, [self.default_bank]
            if rule.selects(match, banks):
                chosen.append({**match.to_json(), "banks": banks})
        return chosen

    # -- report queue ------------------------------------------------------------------------
    def reports(
        self, *, status: ReportStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Report]:
        """Report drafts oldest first, optionally of one status; page with `after` (an id)."""
        statuses = ("pending", "confirmed", "rejected")
        rows = self._page("report", _REPORT_COLUMNS, statuses, status, after, limit)
        return [self._report(r) for r in rows]

    def _page(
        self,
        what: str,
        columns: str,
        statuses: tuple[str, ...],
        status: str | None,
        after: int,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """One page of reports or deliveries, oldest first, optionally of one status."""
        if status is not None and status not in statuses:
            raise UsageError(f"unknown {what} status {status!r}")
        table = {"report": "action_reports", "delivery": "action_deliveries"}[what]
        sql = f"SELECT {columns} FROM {table} WHERE id > ?"
        params: list[Any] = [after]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        params.append(_limit(limit))
        return self._read(sql + " ORDER BY id LIMIT ?", params)

    def report(self, report_id: int) -> Report:
        rows = self._read(
            f"SELECT {_REPORT_COLUMNS} FROM action_reports WHERE id = ?", (report_id,)
        )
        if not rows:
            raise NotFoundError(f"no report {report_id}")
        return self._report(rows[0])

    def review(
        self, report_id: int, decision: Decision, *, reviewer: str, note: str | None = None
    ) -> Report:
        """Confirm or reject a pending draft, keeping who decided and when (audited)."""
        if decision not in ("confirmed", "rejected"):
            raise UsageError(f"a review decides confirmed or rejected, not {decision!r}")
        who = reviewer.strip()
        if not who:
            raise UsageError("a review needs the reviewer's name")
        with self._tx() as conn, self.bank.audit.tracked("action_reports", "id = ?", (report_id,)):
            row = conn.execute(
                "UPDATE action_reports SET status = ?, reviewer = ?, reviewed = ?,"
                " review_note = ? WHERE id = ? AND status = 'pending' RETURNING id",
                (decision, who, utc_now(), note, report_id),
            ).fetchone()
            if row is None:
                current = conn.execute(
                    "SELECT status FROM action_reports WHERE id = ?", (report_id,)
                ).fetchone()
                if current is None:
                    raise NotFoundError(f"no report {report_id}")
                raise ConflictError(f"report {report_id} is already {current[0]}")
            action = "report.confirm" if decision == "confirmed" else "report.reject"
            self.bank.audit.record(who, action, {"id": report_id})
        return self.report(report_id)

    @staticmethod
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

    # -- webhook outbox ----------------------------------------------------------------------
    def deliveries(
        self, *, status: DeliveryStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        statuses = ("pending", "delivered", "failed")
        rows = self._page("delivery", _DELIVERY_COLUMNS, statuses, status, after, limit)
        return [
            Delivery(
                id=int(r[0]),
                rule_id=int(r[1]),
                event=str(r[2]),
                url=redact_url(str(r[3])),
                status=r[4],
                attempts=int(r[5]),
                next_attempt=str(r[6]),
                last_error=r[7],
                created=str(r[8]),
                delivered=r[9],
            )
            for r in rows
        ]

    def retry(self, delivery_id: int, *, actor: str = "api") -> Delivery:
        """Send a failed delivery again (after its receiver is fixed), from a fresh count."""
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE action_deliveries SET status = 'pending', attempts = 0, next_attempt = ?"
                " WHERE id = ? AND status = 'failed'"
                " AND rule_id IN (SELECT id FROM action_rules) RETURNING id",
                (utc_now(), delivery_id),
            ).fetchone()
            if row is None:
                found = conn.execute(
                    "SELECT status FROM action_deliveries WHERE id = ?", (delivery_id,)
                ).fetchone()
                if found is None:
                    raise NotFoundError(f"no delivery {delivery_id}")
                if found[0] == "failed":
                    raise ConflictError(f"delivery {delivery_id}'s rule was removed")
                raise ConflictError(f"delivery {delivery_id} is {found[0]}, not failed")
            self.bank.audit.record(actor, "action.delivery.retry", {"id": delivery_id})
        with suppress(queue.Full):
            self.wakeups.put_nowait(delivery_id)
        (delivery,) = self.deliveries(after=delivery_id - 1, limit=1)
        return delivery

    def next_due(self) -> float | None:
        """Seconds until the earliest pending delivery is due (0 if overdue), None if none."""
        ((first,),) = self._read(
            "SELECT MIN(next_attempt) FROM action_deliveries WHERE status = 'pending'"
        )
        if first is None:
            return None
        due = parse_utc(str(first))
        return max(0.0, (due - datetime.now(UTC)).total_seconds())

    def deliver_due(self, *, stop: threading.Event | None = None) -> int:
        """Send every delivery that is due, one at a time; returns the attempts made."""
        attempts = 0
        while stop is None or not stop.is_set():
            claimed = self._claim()
            if claimed is None:
                return attempts
            self._attempt(*claimed)
            attempts += 1
        return attempts

    def _claim(self) -> tuple[int, str, str, str, str, int] | None:
        """Take the next due delivery: count the attempt and lease it (its next attempt moves
        past the send's time limit), so another worker or replica never sends it at the same
        time, and a worker that dies mid-send leaves it to be retried."""
        while True:
            now = datetime.now(UTC)
            lease = utc_text(now + timedelta(seconds=self.settings.timeout_s + 30))
            with self._tx() as conn:
                row = conn.execute(
                    "SELECT d.id, d.url, d.body, d.event, d.attempts, r.webhook_secret"
                    " FROM action_deliveries d LEFT JOIN action_rules r ON r.id = d.rule_id"
                    " WHERE d.status = 'pending' AND d.next_attempt <= ?"
                    " ORDER BY d.next_attempt, d.id LIMIT 1",
                    (utc_text(now),),
                ).fetchone()
                if row is None:
                    return None
                delivery_id, url, body, event, attempts, secret = row
                given_up = None
                if secret is None:
                    given_up = "rule removed before delivery"
                elif int(attempts) >= self.settings.max_attempts:
                    given_up = f"no answer recorded after {attempts} attempts (worker stopped)"
                if given_up is not None:
                    conn.execute(
                        "UPDATE action_deliveries SET status = 'failed', last_error = ?"
                        " WHERE id = ?",
                        (given_up, delivery_id),
                    )
                    continue
                conn.execute(
                    "UPDATE action_deliveries SET attempts = ?, next_attempt = ? WHERE id = ?",
                    (int(attempts) + 1, lease, delivery_id),
                )
            return int(delivery_id), str(url), str(body), str(event), str(secret), attempts + 1

    def _attempt(
        self, delivery_id: int, url: str, body: str, event: str, secret: str, attempts: int
    ) -> None:
        raw = body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hashwarden-webhook",
            SIGNATURE_HEADER: sign(secret, timestamp, raw),
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: str(delivery_id),
            EVENT_HEADER: event,
        }
        error: str | None
        #: What the service log says of a failure (the listing says less: see UNREACHABLE).
        detail: str | None = None
        refused = False
        try:
            self.settings.targets.check_url(url)
            client = self._client_for(url)
            # Streamed and never read: a receiver's answer is its status, whatever its size.
            with client.stream("POST", url, content=raw, headers=headers) as response:
                ok = 200 <= response.status_code < 300
                error = None if ok else f"HTTP {response.status_code}"
        except TargetRefused as exc:
            error, detail, refused = REFUSED, str(exc), True
        except Exception as exc:  # any failure to send is this delivery's error, kept below
            error, detail = UNREACHABLE, f"{type(exc).__name__}: {exc}"
        now = datetime.now(UTC)
        with self._tx() as conn:
            if error is None:
                conn.execute(
                    "UPDATE action_deliveries SET status = 'delivered', delivered = ?,"
                    " last_error = NULL WHERE id = ?",
                    (utc_text(now), delivery_id),
                )
            elif refused or attempts >= self.settings.max_attempts:
                conn.execute(
                    "UPDATE action_deliveries SET status = 'failed', last_error = ? WHERE id = ?",
                    (error, delivery_id),
                )
            else:
                retry = now + timedelta(seconds=self.settings.backoff(attempts))
                conn.execute(
                    "UPDATE action_deliveries SET next_attempt = ?, last_error = ? WHERE id = ?",
                    (utc_text(retry), error, delivery_id),
                )
        if error is not None:
            final = refused or attempts >= self.settings.max_attempts
            log.warning(
                "webhook delivery %d to %s attempt %d failed%s: %s",
                delivery_id,
                redact_url(url),
                attempts,
                " for good" if final else "",
                _scrub(detail or error, url)[:500],
            )


class WebhookWorker:
    """The background thread that empties the outbox: woken by new deliveries, and otherwise
    at the earliest retry or every `poll_s` (deliveries queued by other replicas)."""

    def __init__(self, engine: ActionEngine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise UsageError("the webhook worker is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hashwarden-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the attempt in flight (its outcome is recorded)."""
        self._stop.set()
        with suppress(queue.Full):
            self.engine.wakeups.put_nowait(0)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.engine.settings.poll_s
            try:
                self.engine.deliver_due(stop=self._stop)
                due = self.engine.next_due()
                if due is not None:
                    wait = min(wait, due)
            except Exception:  # a bank hiccup must not end deliveries for good
                log.exception("webhook delivery pass failed; retrying")
            try:
                self.engine.wakeups.get(timeout=wait)
                while True:
                    self.engine.wakeups.get_nowait()
            except queue.Empty:
                pass
