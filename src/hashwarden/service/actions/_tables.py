"""What the parts of the action engine share: the bank's connection, the lock that serialises
its use, and the delivery settings; reads, write transactions and paging over its tables."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hashwarden.bank.protocols import BankStore
from hashwarden.errors import UsageError
from hashwarden.service.actions.settings import DeliverySettings

__all__ = ["MAX_LIMIT", "Tables"]

MAX_LIMIT = 1000


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
