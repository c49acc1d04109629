"""The action engine: runs the rules on one content's matches and writes what they set off (a
report draft, webhook deliveries) in one transaction; the one object the service and the
CLI hold for rules, report queue and outbox."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from hashwarden._time import utc_now, utc_text
from hashwarden.bank.protocols import BankStore
from hashwarden.index.matcher import Match
from hashwarden.service.actions._tables import Tables
from hashwarden.service.actions.outbox import Claimed, Delivery, DeliveryStatus, Outbox
from hashwarden.service.actions.reports import Decision, Report, ReportQueue, ReportStatus
from hashwarden.service.actions.rules import NewRule, Rule, RuleBook
from hashwarden.service.actions.settings import DeliverySettings
from hashwarden.service.actions.targets import Resolver
from hashwarden.service.actions.votes import Vote, VoteOutbox, VoteStatus
from hashwarden.service.actions.worker import Sender
from hashwarden.service.banks import DEFAULT_BANK, BankMatch

__all__ = ["ActionEngine", "Triggered"]


@dataclass(frozen=True)
class Triggered:
    """What one match set off."""

    event: str
    report: int | None
    deliveries: list[int]


class ActionEngine:
    """Rules (`rules`), report drafts (`reports`) and the webhook outbox (`outbox`, sent by
    `sender`) in the bank's own tables, with the methods the service's routes call.

    `lock` serialises this engine's use of the bank's connection with other threads sharing
    it (the service passes its own); it is never held while a webhook is sent.
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
        self.tables = Tables(bank, lock or threading.Lock(), settings or DeliverySettings())
        self.rulebook = RuleBook(self.tables, default_bank)
        self.votes_outbox = VoteOutbox(self.tables)
        self.queue = ReportQueue(self.tables, self.votes_outbox)
        self.outbox = Outbox(self.tables)
        self.sender = Sender(self.tables, self.outbox, resolver)

    @property
    def bank(self) -> BankStore:
        return self.tables.bank

    @property
    def settings(self) -> DeliverySettings:
        return self.tables.settings

    @settings.setter
    def settings(self, settings: DeliverySettings) -> None:
        self.tables.settings = settings

    def close(self) -> None:
        self.sender.close()

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
        enabled = self.rulebook.enabled()
        urls = {rule.id: url for rule, url in enabled}
        fired = [(rule, self.rulebook.selected(rule, matches)) for rule, _ in enabled]
        fired = [(rule, chosen) for rule, chosen in fired if chosen]
        if not fired:
            return Triggered(event, None, [])
        reporting = [(rule, chosen) for rule, chosen in fired if rule.report]
        sending = any(urls[rule.id] is not None for rule, _ in fired)
        report_id: int | None = None
        deliveries: list[int] = []
        with self.tables.tx() as conn, self.outbox.vouched() if sending else nullcontext():
            if reporting:
                report_id = self.queue.draft(
                    conn,
                    event=event,
                    created=now,
                    incident_time=incident,
                    uploader_ref=uploader_ref,
                    hashes=hashes,
                    matches=[m for _, chosen in reporting for m in chosen],
                    rules=[rule.id for rule, _ in reporting],
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
                deliveries.append(
                    self.outbox.add(conn, rule_id=rule.id, event=event, url=url, body=body, now=now)
                )
            if deliveries:  # one event vouches for the batch: what is sent, and where
                self.bank.audit.record(
                    "system",
                    "action.delivery.queue",
                    {"event": event, "report": report_id, "deliveries": deliveries},
                )
        for delivery in deliveries:
            if not self.outbox.wake(delivery):
                break  # the worker is busy and will find these in the outbox
        return Triggered(event, report_id, deliveries)

    def deliver_due(self, *, stop: threading.Event | None = None) -> int:
        """Send every delivery that is due, then every programme vote, one at a time; returns
        the attempts made."""
        attempts = 0
        while stop is None or not stop.is_set():
            claimed: Claimed | None = self.outbox.claim()
            if claimed is None:
                break
            self.sender.attempt(claimed)
            attempts += 1
        while stop is None or not stop.is_set():
            vote = self.votes_outbox.claim()
            if vote is None:
                return attempts
            self.votes_outbox.attempt(vote)
            attempts += 1
        return attempts

    # -- what the routes call ------------------------------------------------------------------
    def add_rule(self, rule: NewRule, *, actor: str = "api") -> tuple[Rule, str | None]:
        """Store a rule; returns it with its webhook secret (the only time it is shown)."""
        return self.rulebook.add(rule, actor=actor)

    def rules(self) -> list[Rule]:
        return self.rulebook.all()

    def rule(self, rule_id: int) -> Rule:
        return self.rulebook.get(rule_id)

    def remove_rule(self, rule_id: int, *, actor: str = "api") -> Rule:
        """Delete a rule; its undelivered webhooks are marked failed, not dropped."""
        return self.rulebook.remove(rule_id, actor=actor)

    def set_enabled(self, rule_id: int, enabled: bool, *, actor: str = "api") -> Rule:
        """Turn a rule on or off (a rule turned on has its URL checked again)."""
        return self.rulebook.set_enabled(rule_id, enabled, actor=actor)

    def reports(
        self, *, status: ReportStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Report]:
        """Report drafts oldest first, optionally of one status; page with `after` (an id)."""
        return self.queue.page(status=status, after=after, limit=limit)

    def report(self, report_id: int) -> Report:
        return self.queue.get(report_id)

    def review(
        self, report_id: int, decision: Decision, *, reviewer: str, note: str | None = None
    ) -> Report:
        """Confirm or reject a pending draft, keeping who decided and when (audited); the
        votes it queues for programmes are sent by the worker, woken here."""
        report = self.queue.review(report_id, decision, reviewer=reviewer, note=note)
        self.outbox.wake(0)
        return report

    def votes(self, *, status: VoteStatus | None = None) -> list[Vote]:
        """The programmes' votes, oldest first, optionally of one status."""
        return self.votes_outbox.page(status=status)

    def deliveries(
        self, *, status: DeliveryStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        return self.outbox.page(status=status, after=after, limit=limit)

    def retry(self, delivery_id: int, *, actor: str = "api") -> Delivery:
        """Send a failed delivery again (after its receiver is fixed), from a fresh count."""
        return self.outbox.retry(delivery_id, actor=actor)

    def next_due(self) -> float | None:
        """Seconds until the earliest pending delivery or vote is due (0 if overdue), None
        if none."""
        due = [d for d in (self.outbox.next_due(), self.votes_outbox.next_due()) if d is not None]
        return min(due, default=None)
