"""Action rules: which matches (bank, category, distance) set off which actions (a webhook, a
report draft). Stored in the bank's `action_rules` table; a webhook's secret is never read
back out, and its URL is shown without credentials."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hashwarden._time import utc_now
from hashwarden.bank.categories import parse_category
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.index.matcher import Match
from hashwarden.service.actions._tables import Tables
from hashwarden.service.actions.targets import redact_url
from hashwarden.service.banks import BankMatch

__all__ = ["NewRule", "Rule", "RuleBook"]

_COLUMNS = "id, name, bank, categories, max_distance, webhook_url, report, enabled, created"


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


class RuleBook:
    """The rules in the bank, and a short-lived copy of the enabled ones for matching."""

    def __init__(self, tables: Tables, default_bank: str) -> None:
        self.tables = tables
        #: The bank name a plain `Match` (one without named banks) counts in.
        self.default_bank = default_bank
        #: (when read, enabled rules with their real URLs): a match no rule selects writes
        #: nothing.
        self._cached: tuple[float, list[tuple[Rule, str | None]]] | None = None

    def add(self, rule: NewRule, *, actor: str) -> tuple[Rule, str | None]:
        """Store a rule; returns it with its webhook secret (the only time it is shown)."""
        name = rule.name.strip()
        if not name:
            raise UsageError("a rule needs a name")
        if rule.webhook_url is None and not rule.report:
            raise UsageError("a rule needs an action: a webhook_url, report, or both")
        if rule.webhook_url is not None:
            self.tables.settings.targets.check_url(rule.webhook_url)
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
        bank = self.tables.bank
        with self.tables.tx() as conn, bank.audit.tracked("action_rules", "name = ?", (name,)):
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
            shown = None if rule.webhook_url is None else redact_url(rule.webhook_url)
            bank.audit.record(
                actor, "action.rule.add", {"id": rule_id, "name": name, "webhook_url": shown}
            )
        self._cached = None
        return self.get(rule_id), secret

    def all(self) -> list[Rule]:
        rows = self.tables.read(f"SELECT {_COLUMNS} FROM action_rules ORDER BY id")
        return [_rule(r) for r in rows]

    def get(self, rule_id: int) -> Rule:
        rows = self.tables.read(f"SELECT {_COLUMNS} FROM action_rules WHERE id = ?", (rule_id,))
        if not rows:
            raise NotFoundError(f"no action rule {rule_id}")
        return _rule(rows[0])

    def remove(self, rule_id: int, *, actor: str) -> Rule:
        """Delete a rule; its undelivered webhooks are marked failed, not dropped."""
        rule = self.get(rule_id)
        bank = self.tables.bank
        with self.tables.tx() as conn, bank.audit.tracked("action_rules", "id = ?", (rule_id,)):
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
            bank.audit.record(actor, "action.rule.remove", {"id": rule_id, "name": rule.name})
        self._cached = None
        return rule

    def set_enabled(self, rule_id: int, enabled: bool, *, actor: str) -> Rule:
        """Turn a rule on or off, keeping it and its secret; a rule turned on has its URL
        checked again (the allow-list may have changed since it was added)."""
        if enabled:
            rows = self.tables.read("SELECT webhook_url FROM action_rules WHERE id = ?", (rule_id,))
            if rows and rows[0][0] is not None:
                self.tables.settings.targets.check_url(str(rows[0][0]))
        bank = self.tables.bank
        with self.tables.tx() as conn, bank.audit.tracked("action_rules", "id = ?", (rule_id,)):
            row = conn.execute(
                "UPDATE action_rules SET enabled = ? WHERE id = ? RETURNING id",
                (int(enabled), rule_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no action rule {rule_id}")
            action = "action.rule.enable" if enabled else "action.rule.disable"
            bank.audit.record(actor, action, {"id": rule_id})
        self._cached = None
        return self.get(rule_id)

    def enabled(self) -> list[tuple[Rule, str | None]]:
        """The enabled rules, each with the real URL it sends to (shown nowhere); read again
        after `rules_ttl_s`, so a change made through another worker or replica applies."""
        cached = self._cached
        ttl = self.tables.settings.rules_ttl_s
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return cached[1]
        rows = self.tables.read(
            f"SELECT {_COLUMNS} FROM action_rules WHERE enabled = 1 ORDER BY id"
        )
        rules = [(_rule(row), row[5]) for row in rows]
        self._cached = (time.monotonic(), rules)
        return rules

    def selected(self, rule: Rule, matches: Sequence[BankMatch | Match]) -> list[dict[str, Any]]:
        """The matches `rule` selects, as JSON with the banks each counts in."""
        chosen = []
        for found in matches:
            if isinstance(found, BankMatch):
                match, banks = found.match, found.banks
            else:
                match, banks = found, [self.default_bank]
            if rule.selects(match, banks):
                chosen.append({**match.to_json(), "banks": banks})
        return chosen


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
