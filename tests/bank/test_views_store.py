"""The view hashes banked beside entries: linked to the entry, vouched for by the audit log,
gone with the entry, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random

import pytest

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.errors import InvalidSignalError, NotFoundError
from hashwarden.signals import Signal
from tests.conftest import BankLocations


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _entry(bank: Bank, n: int) -> int:
    md5, sha256 = f"{n:032x}", f"{n:064x}"
    return bank.entries.add(NewEntry([Signal("md5", md5), Signal("sha256", sha256)], "csam-a"))


def test_views_are_linked_to_their_entry_and_audited(bank_locations: BankLocations) -> None:
    rng = random.Random(1)
    location = bank_locations.new_location()
    with create_bank(location) as bank:
        first, second = _entry(bank, 1), _entry(bank, 2)
        version = bank.entries.get(first).version
        views = {"c3": _hex(rng), "-B12": _hex(rng)}
        assert bank.views.add({first: views}) == [first]
        assert bank.views.of([first, second]) == {first: views}
        assert bank.entries.get(first).version > version  # the indexes catch up with it
        assert [e.action for e in bank.audit.events(after=0)][-1] == "entries.views"
        # Without replace an entry keeps its views; with it they are replaced.
        assert bank.views.add({first: {"c6": _hex(rng)}}, replace=False) == []
        assert bank.views.add({first: {"c6": views["c3"]}}) == [first]
        assert bank.views.of([first]) == {first: {"c6": views["c3"]}}
        assert bank.views.count() == (1, 1)
        assert bank.verify().ok, bank.verify().problems
        bank.entries.remove(first)
        assert bank.views.of([first]) == {}
        assert list(bank.views.all()) == []
        assert bank.verify().ok, bank.verify().problems


def test_views_of_files_find_their_entry_by_sha256_or_md5(bank: Bank) -> None:
    rng = random.Random(2)
    entry = _entry(bank, 7)
    views = {"L4": _hex(rng)}
    found, unmatched = bank.views.for_files(
        [
            (f"{7:064x}", "0" * 32, views),
            ("f" * 64, f"{7:032x}", views),
            ("e" * 64, "e" * 32, views),
        ]
    )
    assert found == {entry: views}
    assert unmatched == 1


def test_a_view_row_put_in_behind_the_logs_back_shows(bank_locations: BankLocations) -> None:
    location = bank_locations.new_location()
    with create_bank(location) as bank:
        entry = _entry(bank, 3)
    bank_locations.tamper(
        location,
        f"INSERT INTO entry_views(entry_id, view, value) VALUES ({entry}, 'c3', '{'a' * 64}')",
    )
    with open_bank(location, readonly=True) as bank:
        problems = bank.verify().problems
    assert any("entry_views" in p for p in problems), problems


@pytest.mark.parametrize(
    ("views", "error"),
    [
        ({"c3": "xyz"}, InvalidSignalError),
        ({"x3; DROP": "a" * 64}, InvalidSignalError),
    ],
)
def test_bad_views_are_refused(bank: Bank, views: dict[str, str], error: type) -> None:
    entry = _entry(bank, 4)
    with pytest.raises(error):
        bank.views.add({entry: views})
    assert bank.views.of([entry]) == {}


def test_views_of_an_entry_not_banked_are_refused(bank: Bank) -> None:
    with pytest.raises(NotFoundError):
        bank.views.add({99: {"c3": "a" * 64}})
    assert bank.views.count() == (0, 0)
