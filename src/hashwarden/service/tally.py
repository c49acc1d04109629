"""Matches answered today, for the console's dashboard, without a write per match.

Each worker counts the look-ups it answers with a match in memory, by UTC day, and adds its
counts to the bank's `match_days` table every `flush_s` seconds (one upsert per day counted)
and when it stops. The bank's row for a day is then the sum over every worker and replica;
the dashboard shows it plus what its own worker has not written yet, so another worker's
latest matches appear within `flush_s`. A flush the bank refuses (its write lock held by a
long import) keeps its counts for the next one: nothing is lost but on a crash.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime

from hashwarden.bank.protocols import BankStore

__all__ = ["MatchTally", "utc_day"]

log = logging.getLogger("hashwarden.service")

_UPSERT = (
    "INSERT INTO match_days(day, matches) VALUES (?, ?)"
    " ON CONFLICT (day) DO UPDATE SET matches = match_days.matches + excluded.matches"
)


def utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


class MatchTally:
    """One worker's count of look-ups answered with a match, written to the bank in batches.
    `lock` is the worker's lock of `bank`'s connection."""

    def __init__(self, bank: BankStore, lock: threading.Lock, *, flush_s: float) -> None:
        self.bank = bank
        self.lock = lock
        self.flush_s = flush_s
        self._pending: Counter[str] = Counter()
        self._counting = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._stopping = threading.Event()

    def add(self, count: int = 1) -> None:
        """Count `count` answers with a match (on the hot path: memory only)."""
        if count <= 0:
            return
        day = utc_day()
        with self._counting:
            self._pending[day] += count
        if self._thread is None:
            self._start()

    def today(self, bank: BankStore) -> int:
        """Today's count (UTC): the bank's, through `bank` (whose lock the caller holds), and
        this worker's not yet written."""
        day = utc_day()
        rows = bank.db.query("SELECT matches FROM match_days WHERE day = ?", (day,))
        with self._counting:
            pending = self._pending[day]
        return (int(rows[0][0]) if rows else 0) + pending

    def flush(self) -> bool:
        """Add the counts not yet written to the bank; False (kept for the next flush) when
        the bank refused them."""
        with self._counting:
            counts, self._pending = self._pending, Counter()
        if not counts:
            return True
        try:
            with self.lock, self.bank.db.transaction() as db:
                db.executemany(_UPSERT, sorted(counts.items()))
        except Exception as exc:  # the bank busy, or gone: keep counting in memory
            with self._counting:
                self._pending.update(counts)
            if not self.bank.db.closed:
                log.warning("matches counted but not yet written to the bank: %s", exc)
            return False
        return True

    def _start(self) -> None:
        """The thread starts with the first match, not with the app (which starts nothing)."""
        with self._started:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="hashwarden-tally", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.flush_s):
            if self.bank.db.closed:  # closed under an app never closed: nothing can be written
                with self._counting:
                    lost = sum(self._pending.values())
                if lost:
                    log.warning("%d matches counted but not written: the bank is closed", lost)
                return
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is counted (a later match starts it again)."""
        with self._started:
            thread, self._thread = self._thread, None
            self._stopping.set()
        if thread is not None:
            thread.join(10.0)
        self.flush()
        self._stopping.clear()
