"""The webhook outbox: deliveries written in the same transaction as the match's report draft,
claimed one at a time with a lease (so two workers or replicas never send one at once, and one
that dies mid-send leaves it to be retried), and their outcome recorded."""

from __future__ import annotations

import json
import queue
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from hashwarden._time import utc_now, utc_text
from hashwarden.errors import ConflictError, NotFoundError
from hashwarden.service.actions._tables import OutboxTable, Tables
from hashwarden.service.actions.targets import redact_url

__all__ = ["Claimed", "Delivery", "DeliveryStatus", "Outbox"]

DeliveryStatus = Literal["pending", "delivered", "failed"]

_TABLE: OutboxTable = "action_deliveries"
_COLUMNS = "id, rule_id, event, url, status, attempts, next_attempt, last_error, created, delivered"


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


class Claimed(NamedTuple):
    """A delivery taken for sending: what to send, where, signed with which secret; `attempts`
    counts this one."""

    id: int
    url: str
    body: str
    event: str
    secret: str
    attempts: int


class Outbox:
    """Deliveries in the bank's `action_deliveries` table; `wakeups` tells the worker of new
    ones (bounded: losing a wake-up loses nothing, the outbox has the delivery)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.wakeups: queue.Queue[int] = queue.Queue(maxsize=tables.settings.queue_size)

    def vouched(self) -> AbstractContextManager[Any]:
        """Inside the caller's transaction: the deliveries `add`ed in this block are vouched
        for by its next audit event (`bank verify` names one changed behind the log)."""
        return self.tables.bank.audit.tracked_appends(_TABLE)

    def add(
        self, conn: Any, *, rule_id: int, event: str, url: str, body: dict[str, Any], now: str
    ) -> int:
        """Queue one delivery inside the caller's transaction, due `now` (in a `vouched`
        block)."""
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        row = conn.execute(
            "INSERT INTO action_deliveries(rule_id, event, url, body, next_attempt,"
            " created) VALUES (?,?,?,?,?,?) RETURNING id",
            (rule_id, event, url, text, now, now),
        ).fetchone()
        return int(row[0])

    def wake(self, delivery_id: int) -> bool:
        """Tell the worker; False when its queue is full (it will find the delivery anyway)."""
        try:
            self.wakeups.put_nowait(delivery_id)
        except queue.Full:
            return False
        return True

    def page(
        self, *, status: DeliveryStatus | None = None, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        statuses = ("pending", "delivered", "failed")
        rows = self.tables.page("action_deliveries", _COLUMNS, statuses, status, after, limit)
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

    def retry(self, delivery_id: int, *, actor: str) -> Delivery:
        """Send a failed delivery again (after its receiver is fixed), from a fresh count."""
        with self.tables.tx() as conn:
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
            self.tables.bank.audit.record(actor, "action.delivery.retry", {"id": delivery_id})
        with suppress(queue.Full):
            self.wakeups.put_nowait(delivery_id)
        (delivery,) = self.page(after=delivery_id - 1, limit=1)
        return delivery

    def next_due(self) -> float | None:
        """Seconds until the earliest pending delivery is due (0 if overdue), None if none."""
        return self.tables.next_due(_TABLE)

    def claim(self) -> Claimed | None:
        """Take the next due delivery: count the attempt and lease it (its next attempt moves
        past the send's time limit), so another worker or replica never sends it at the same
        time, and a worker that dies mid-send leaves it to be retried."""
        settings = self.tables.settings
        while True:
            now = datetime.now(UTC)
            lease = utc_text(now + timedelta(seconds=settings.timeout_s + 30))
            with self.tables.tx() as conn:
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
                elif int(attempts) >= settings.max_attempts:
                    given_up = f"no answer recorded after {attempts} attempts (worker stopped)"
                if given_up is not None:
                    self.tables.mark_failed(conn, _TABLE, delivery_id, given_up)
                    continue
                conn.execute(
                    "UPDATE action_deliveries SET attempts = ?, next_attempt = ? WHERE id = ?",
                    (int(attempts) + 1, lease, delivery_id),
                )
            return Claimed(
                int(delivery_id), str(url), str(body), str(event), str(secret), attempts + 1
            )

    def delivered(self, delivery_id: int) -> None:
        with self.tables.tx() as conn:
            self.tables.mark_delivered(conn, _TABLE, delivery_id)

    def failed(self, delivery_id: int, error: str) -> None:
        """Give up on a delivery for good."""
        with self.tables.tx() as conn:
            self.tables.mark_failed(conn, _TABLE, delivery_id, error)

    def retry_later(self, delivery_id: int, error: str, attempts: int) -> None:
        """Try again after the backoff of `attempts` failed attempts."""
        with self.tables.tx() as conn:
            self.tables.retry_later(conn, _TABLE, delivery_id, error, attempts)
