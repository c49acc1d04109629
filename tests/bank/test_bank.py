"""The SQLite bank: entries, known-good sets, all-or-nothing writes and the audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank, parse_category
from hashwarden.bank.categories import CATEGORIES, most_severe, to_project_vic, to_uk
from hashwarden.errors import (
    ConflictError,
    DataError,
    ExchangeUnavailableError,
    NotFoundError,
    UsageError,
)
from hashwarden.signals import Signal

from .._postgres import ThrowawayPostgres
from ..conftest import BankLocations

MD5 = "d35c785545392755e7e4164457657269"


@pytest.fixture
def bank(any_bank: Bank) -> Bank:
    """Every bank test here runs on SQLite and on PostgreSQL."""
    return any_bank


def _entry(md5: str = MD5, **kw: object) -> NewEntry:
    return NewEntry([Signal("md5", md5)], **kw)  # type: ignore[arg-type]


def test_add_get_update_remove(bank: Bank) -> None:
    eid = bank.entries.add(_entry(category="csam-b", series="s1", source="org"))
    entry = bank.entries.get(eid)
    assert entry.category == "csam-b" and entry.series == "s1" and entry.signal("md5") == MD5
    updated = bank.entries.update(eid, category="csam-a", note="regraded")
    assert updated.category == "csam-a" and bank.entries.get(eid).note == "regraded"
    assert bank.entries.lookup("md5", [MD5, "0" * 32]) == {MD5: eid}
    bank.entries.remove(eid)
    with pytest.raises(NotFoundError):
        bank.entries.get(eid)
    assert bank.entries.lookup("md5", [MD5]) == {}
    assert bank.verify().ok


def test_duplicate_signal_is_refused_or_skipped(bank: Bank) -> None:
    bank.entries.add(_entry())
    with pytest.raises(ConflictError, match="already in the bank"):
        bank.entries.add(_entry())
    result = bank.entries.add_many([_entry(), _entry("1" * 32)])
    assert result.duplicates == 1 and len(result.added) == 1


def test_failed_batch_leaves_bank_unchanged(bank: Bank) -> None:
    bank.entries.add(_entry())
    before = bank.stats()

    def entries():  # type: ignore[no-untyped-def]
        yield _entry("2" * 32)
        yield _entry("3" * 32)
        raise DataError("line 3: broken")

    with pytest.raises(DataError):
        bank.entries.add_many(entries())
    after = bank.stats()
    assert (after.entries, after.audit_events) == (before.entries, before.audit_events)
    assert bank.verify().ok


def test_known_good_kept_apart(bank: Bank) -> None:
    assert bank.known_good.add("os", [Signal("md5", MD5), Signal("md5", MD5)]) == 1
    assert bank.known_good.lookup("md5", [MD5]) == {MD5: "os"}
    assert bank.entries.lookup("md5", [MD5]) == {}
    assert bank.stats().entries == 0 and bank.stats().known_good_sets == {"os": 1}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE entries SET category = 'non-pertinent' WHERE id = 1", "entry 1 was changed"),
        ("DELETE FROM entries WHERE id = 2", "do not add up"),
        ("UPDATE audit SET actor = 'mallory' WHERE seq = 2", "audit event 2"),
        ("DELETE FROM audit WHERE seq = 2", "audit event 2 is missing"),
        ("DELETE FROM known_good", "known-good"),
    ],
)
def test_verify_detects_tampering(bank_locations: BankLocations, sql: str, expected: str) -> None:
    location = bank_locations.new_location()
    with create_bank(location) as b:
        b.entries.add_many([_entry(), _entry("1" * 32)])
        b.known_good.add("os", [Signal("md5", "2" * 32)])
        assert b.verify().ok
    bank_locations.tamper(location, sql)
    with open_bank(location, readonly=True) as b:
        report = b.verify()
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        open_bank(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not a hashwarden bank"):
        open_bank(junk)
    create_bank(tmp_path / "b.db").close()
    with pytest.raises(ConflictError):
        create_bank(tmp_path / "b.db")
    with open_bank(tmp_path / "b.db", readonly=True) as b, pytest.raises(UsageError):
        b.entries.add(_entry())


def test_reopen_keeps_data_and_migrations(bank_locations: BankLocations) -> None:
    location = bank_locations.new_location()
    with create_bank(location) as b:
        b.entries.add(_entry())
        bank_id = b.bank_id
    with open_bank(location) as b:
        assert b.bank_id == bank_id and b.stats().entries == 1 and b.verify().ok
    with open_bank(location, readonly=True) as b, pytest.raises(UsageError, match="read-only"):
        b.entries.add(_entry("9" * 32))
    with pytest.raises(ConflictError):
        create_bank(location)


def test_postgres_errors_are_clear(pg_server: ThrowawayPostgres) -> None:
    empty = pg_server.new_database()
    with pytest.raises(DataError, match="no hashwarden bank"):
        open_bank(empty)
    dead = f"postgresql://someone:secret@127.0.0.1:{_closed_port()}/x"
    with pytest.raises(ExchangeUnavailableError, match="cannot connect") as info:
        open_bank(dead)
    assert "secret" not in str(info.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_categories_map_both_ways() -> None:
    assert parse_category("A") == "csam-a" and parse_category("c") == "csam-c"
    assert parse_category("1") == "csam" and parse_category("0") == "non-pertinent"
    assert parse_category("0", legacy_vic=True) == "uncategorised"
    assert parse_category("5", legacy_vic=True) == "non-pertinent"
    assert to_project_vic("csam-b") == 1 and to_uk("csam-b") == "B" and to_uk("csam") is None
    assert most_severe(["csam-c", "csam-a", "exploitive"]) == "csam-a"
    with pytest.raises(UsageError, match="unknown category"):
        parse_category("D")


@given(st.sampled_from(sorted(CATEGORIES)))
def test_every_category_round_trips_by_name(name: str) -> None:
    assert parse_category(name.upper()) == name
