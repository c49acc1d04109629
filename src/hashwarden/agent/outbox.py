"""The durable outbox: alerts wait here, in the state folder, until the service has them.

Alerts are queued in the transaction that marks their file seen (`StateDb`), each under an
idempotency key derived from what it reports (agent, file identity and content, matches), so
the same finding queued twice is one row, and sent twice (a crash between the service's
answer and our note of it) is one alert at the service. Delivery is in queue order: the head
is retried, with growing pauses, until the service takes it; an alert the service refuses
for good (malformed: 400, 409, 413, 422) is set aside as `rejected`, kept, and shown by
`hashwarden watch --status`, so one bad alert cannot hold back the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hashwarden.agent.state import StateDb

__all__ = ["Outbox", "Sent", "alert_key"]

log = logging.getLogger("hashwarden.agent")

#: What became of one attempt: taken (stored, or stored before), refused for good, or to retry.
Outcome = Literal["delivered", "rejected", "retry"]
#: Delivered alerts are kept this long (for `--status` and support), then dropped.
KEEP_DELIVERED_S = 7 * 86400.0


@dataclass(frozen=True)
class Sent:
    outcome: Outcome
    detail: str = ""


def alert_key(
    agent: str, identity: tuple[int, int], path: str, sha256: str, matches: list[tuple[str, str]]
) -> str:
    """The idempotency key of an alert: the same file (device, inode) at the same path with
    the same content and matches always gets the same key, whenever it is examined again (a
    restart, its times touched, a bank version that finds nothing new in it)."""
    text = json.dumps([agent, list(identity), path, sha256, sorted(matches)], ensure_ascii=False)
    return "hw-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:48]


class Outbox:
    """Queue and deliver alerts through one `StateDb` (one thread's connection)."""

    def __init__(self, db: StateDb, *, retry_max_s: float = 300.0) -> None:
        self.db = db
        self.retry_max_s = retry_max_s

    @staticmethod
    def add(conn: sqlite3.Connection, key: str, body: dict[str, Any]) -> bool:
        """Queue an alert inside the caller's transaction; False when its key is queued or
        delivered already."""
        row = conn.execute(
            "INSERT INTO outbox(key, body, created) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING RETURNING seq",
            (key, json.dumps(body, ensure_ascii=False), time.time()),
        ).fetchone()
        return row is not None

    def counts(self) -> dict[str, int]:
        rows = self.db.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        found = {str(s): int(n) for s, n in rows}
        return {s: found.get(s, 0) for s in ("pending", "delivered", "rejected")}

    def head(self) -> tuple[int, str, dict[str, Any], int, float] | None:
        """The oldest alert not yet taken: (seq, key, body, attempts, next attempt)."""
        row = self.db.conn.execute(
            "SELECT seq, key, body, attempts, next_attempt FROM outbox"
            " WHERE status = 'pending' ORDER BY seq LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        seq, key, body, attempts, due = row
        return int(seq), str(key), json.loads(body), int(attempts), float(due)

    def deliver(self, send: Callable[[str, dict[str, Any]], Sent], *, limit: int = 1000) -> float:
        """Send due alerts in order until one must wait; returns the seconds until the head is
        due again (0: more to send now, inf: the outbox is empty)."""
        for _ in range(limit):
            head = self.head()
            if head is None:
                return float("inf")
            seq, key, body, attempts, due = head
            now = time.time()
            if due > now:
                return due - now
            sent = send(key, body)
            with self.db.transaction() as conn:
                if sent.outcome == "delivered":
                    conn.execute(
                        "UPDATE outbox SET status = 'delivered', delivered = ?, attempts = ?,"
                        " last_error = NULL WHERE seq = ?",
                        (time.time(), attempts + 1, seq),
                    )
                elif sent.outcome == "rejected":
                    conn.execute(
                        "UPDATE outbox SET status = 'rejected', attempts = ?, last_error = ?"
                        " WHERE seq = ?",
                        (attempts + 1, sent.detail[:500], seq),
                    )
                    log.error("the service refused alert %d for good: %s", seq, sent.detail)
                else:
                    pause = min(self.retry_max_s, 2.0 ** min(attempts, 20))
                    conn.execute(
                        "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ?"
                        " WHERE seq = ?",
                        (attempts + 1, time.time() + pause, sent.detail[:500], seq),
                    )
                    return pause
        return 0.0

    def retry_now(self) -> None:
        """The service may be back: try the head at once (the next heartbeat got through)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET next_attempt = 0 WHERE status = 'pending'")

    def last_error(self) -> str | None:
        row = self.db.conn.execute(
            "SELECT last_error FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else row[0]

    def prune(self) -> int:
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE status = 'delivered' AND delivered < ?",
                (time.time() - KEEP_DELIVERED_S,),
            ).rowcount
