"""The count of matches answered: in memory on the hot path, added to the bank in batches,
kept when the bank refuses a write, written when the worker stops."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hashwarden.bank import Bank
from hashwarden.errors import UsageError
from hashwarden.service import ServiceSettings
from hashwarden.service.tally import MatchTally, utc_day


def written(bank: Bank) -> int:
    rows = bank.db.query("SELECT matches FROM match_days WHERE day = ?", (utc_day(),))
    return int(rows[0][0]) if rows else 0


def test_counts_wait_in_memory_until_a_flush_adds_them(any_bank: Bank) -> None:
    tally = MatchTally(any_bank, threading.Lock(), flush_s=3600)
    tally.add(2)
    tally.add(0)
    tally.add()
    assert written(any_bank) == 0 and tally.today(any_bank) == 3
    assert tally.flush() and written(any_bank) == 3 and tally.today(any_bank) == 3
    other = MatchTally(any_bank, threading.Lock(), flush_s=3600)  # another worker
    other.add(4)
    assert other.flush() and tally.flush()
    assert written(any_bank) == 7 and tally.today(any_bank) == 7
    tally.close()
    other.close()


def test_a_flush_the_bank_refuses_keeps_its_counts(
    any_bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally = MatchTally(any_bank, threading.Lock(), flush_s=3600)
    tally.add(5)

    @contextmanager
    def locked(*_: Any) -> Iterator[None]:
        raise sqlite3.OperationalError("database is locked")
        yield

    with monkeypatch.context() as patched:
        patched.setattr(any_bank.db, "transaction", locked)
        assert not tally.flush()
    assert written(any_bank) == 0 and tally.today(any_bank) == 5
    tally.add()
    assert tally.flush() and written(any_bank) == 6
    tally.close()


def test_stopping_writes_what_is_counted_and_a_later_match_starts_again(any_bank: Bank) -> None:
    tally = MatchTally(any_bank, threading.Lock(), flush_s=3600)
    tally.add(3)
    tally.close()
    assert written(any_bank) == 3
    tally.add()
    assert tally._thread is not None and tally._thread.is_alive()
    tally.close()
    assert written(any_bank) == 4 and tally._thread is None


def test_the_flush_interval_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWARDEN_TALLY_FLUSH_S", "2.5")
    assert ServiceSettings.from_env().tally_flush_s == 2.5
    monkeypatch.setenv("HASHWARDEN_TALLY_FLUSH_S", "0")
    with pytest.raises(UsageError, match=r"HASHWARDEN_TALLY_FLUSH_S must be at least 0\.1"):
        ServiceSettings.from_env()


def test_the_thread_ends_once_the_banks_connection_is_closed(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An app never closed (its bank's connection closed under it) leaves no thread retrying
    for ever, and says once what was not written."""
    from hashwarden.bank import create_bank

    bank = create_bank(str(tmp_path / "bank.db"))
    tally = MatchTally(bank, threading.Lock(), flush_s=0.01)
    tally.add(3)
    thread = tally._thread
    assert thread is not None
    bank.close()
    thread.join(10.0)
    assert not thread.is_alive()
    warnings = [r.getMessage() for r in caplog.records if "matches counted" in r.getMessage()]
    assert len(warnings) <= 1, warnings
