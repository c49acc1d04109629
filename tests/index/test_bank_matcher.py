"""`BankMatcher` answers a look-up that finds nothing from memory alone: the bank is asked only
for the entries a match found, whatever kinds the look-up carries."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.index import BankMatcher
from hashwarden.signals import Signal


def _pdq(seed: int) -> str:
    return f"{random.Random(seed).getrandbits(256):064x}"


@pytest.fixture
def bank(tmp_path: Path) -> Any:
    with create_bank(str(tmp_path / "bank.db")) as bank:
        bank.entries.add_many(NewEntry([Signal("pdq", _pdq(s))]) for s in range(50))
        bank.entries.add(NewEntry([Signal("md5", "a" * 32)]))
        bank.known_good.add("stock", [Signal("pdq", _pdq(1000)), Signal("md5", "b" * 32)])
        yield bank


def _statements(bank: Bank, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL the bank's connection runs from now on."""
    run: list[str] = []
    for name in ("execute", "query"):
        real = getattr(bank.db, name)

        def counted(sql: str, *args: Any, real: Any = real, **kwargs: Any) -> Any:
            run.append(sql)
            return real(sql, *args, **kwargs)

        monkeypatch.setattr(bank.db, name, counted)
    return run


def test_a_lookup_that_finds_nothing_asks_the_bank_nothing(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    matcher = BankMatcher(bank)
    run = _statements(bank, monkeypatch)
    for signals in ({"pdq": _pdq(999)}, {"md5": "c" * 32}, {"pdq": _pdq(998), "md5": "d" * 32}):
        result = matcher.match(signals)
        assert (result.matches, result.known_good) == ([], [])
    assert run == []


def test_known_good_pdq_is_found_from_memory(bank: Bank, monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = BankMatcher(bank)
    run = _statements(bank, monkeypatch)
    assert matcher.match({"pdq": _pdq(1000)}).known_good == ["stock"]
    assert run == []
    bank.known_good.add("stock", [Signal("pdq", _pdq(1001))])
    matcher.refresh()
    assert matcher.match({"pdq": _pdq(1001)}).known_good == ["stock"]


@pytest.mark.parametrize("quality", [None, 90, 10])
def test_a_banked_pdq_is_found_exactly_whatever_its_quality(
    bank: Bank, quality: int | None
) -> None:
    """Low-quality hashes never near-match, but an exact copy is still found (distance 0,
    as the picture was banked)."""
    matches = BankMatcher(bank).match({"pdq": _pdq(7)}, pdq_quality=quality).matches
    assert [(m.kind, m.distance, m.orientation) for m in matches] == [("pdq", 0, "original")]
    assert matches[0].value == _pdq(7)
