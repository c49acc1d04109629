"""What the parts of the action engine share: the bank's connection, the lock that serialises
its use, and the delivery settings; reads, write transactions and paging over its tables, and
the states of a row of its outboxes (webhook deliveries, programme votes): pending until due,
then delivered, retried after the backoff, or failed for good."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from hashwarden._time import parse_utc, utc_text
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import UsageError
from hashwarden.service.actions.settings import DeliverySettings

__all__ = ["MAX_LIMIT", "OutboxTable", "Tables"]

MAX_LIMIT = 1000
#: The tables whose rows wait to be sent (columns status, attempts, next_attempt, last_error,
#: delivered).
OutboxTable = Literal["action_deliveries", "programme_votes"]


@dataclass
class Tables:
    """The bank's action tables as the engine's parts use them. `lock` serialises use of the
    connection with other threads sharing it (the service passes its own); it is never held
    while a webhook is sent. `settings` may be replaced while the engine runs."""

    bank: BankStore
    lock: threading.Lock
    settings: DeliverySettings

    @contextmanager
    def tx(self) -> Iterator[Any]:
        with self.lock, self.bank.db.transaction() as conn:
            yield conn

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction (no write lock, also on a read-only bank)."""
        with self.lock:
            return self.bank.db.query(sql, params)

    def page(
        self,
        table: str,
        columns: str,
        statuses: tuple[str, ...],
        status: str | None,
        after: int,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """One page of a table's rows, oldest first, optionally of one status."""
        what = {"action_reports": "report", "action_deliveries": "delivery"}[table]
        if status is not None and status not in statuses:
            raise UsageError(f"unknown {what} status {status!r}")
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
        sql = f"SELECT {columns} FROM {table} WHERE id > ?"
        params: list[Any] = [after]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        params.append(limit)
        return self.read(sql + " ORDER BY id LIMIT ?", params)

    def next_due(self, table: OutboxTable) -> float | None:
        """Seconds until the table's earliest pending row is due (0 if overdue), None if none."""
        ((first,),) = self.read(f"SELECT MIN(next_attempt) FROM {table} WHERE status = 'pending'")
        if first is None:
            return None
        return max(0.0, (parse_utc(str(first)) - datetime.now(UTC)).total_seconds())

    @staticmethod
    def mark_delivered(conn: Any, table: OutboxTable, row_id: int) -> None:
        conn.execute(
            f"UPDATE {table} SET status = 'delivered', delivered = ?, last_error = NULL"
            " WHERE id = ?",
            (utc_text(datetime.now(UTC)), row_id),
        )

    @staticmethod
    def mark_failed(conn: Any, table: OutboxTable, row_id: int, error: str) -> None:
        """Given up for good."""
        conn.execute(
            f"UPDATE {table} SET status = 'failed', last_error = ? WHERE id = ?", (error, row_id)
        )

    def retry_later(
        self, conn: Any, table: OutboxTable, row_id: int, error: str, attempts: int
    ) -> None:
        """Due again after the backoff of `attempts` failed attempts."""
        retry = datetime.now(UTC) + timedelta(seconds=self.settings.backoff(attempts))
        conn.execute(
            f"UPDATE {table} SET next_attempt = ?, last_error = ? WHERE id = ?",
            (utc_text(retry), error, row_id),
        )
