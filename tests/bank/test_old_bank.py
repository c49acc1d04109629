"""A bank written by an earlier hashwarden (tests/data/old_bank, see its build.py) opens,
verifies and reads as it did then: the audit digests, the stored times and every table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hashwarden.bank import open_bank
from hashwarden.bank.guarded import GUARDED
from hashwarden.exchange.bundle import key_origins
from hashwarden.index.matcher import Match
from hashwarden.service.banks import NamedBanks
from hashwarden.service.keys import list_keys

OLD = Path(__file__).parent.parent / "data" / "old_bank"
EXPECTED = json.loads((OLD / "expected.json").read_text())


@pytest.fixture
def old_bank(tmp_path: Path) -> Path:
    """A copy: opening a bank for writing may migrate and seal it."""
    shutil.copyfile(OLD / "bank.db", tmp_path / "bank.db")
    return tmp_path / "bank.db"


@pytest.mark.parametrize("readonly", [True, False])
def test_an_old_bank_verifies_and_reads_alike(old_bank: Path, readonly: bool) -> None:
    with open_bank(old_bank, readonly=readonly) as bank:
        report = bank.verify()
        assert report.ok, report.problems
        # Opened for writing, it gains the tables guarded since (entry_views, alerts, the
        # webhook and vote queues) and the event that seals them; read-only, it reads as it
        # was (without views or alerts) and verifies the tables it had sealed.
        sealed = 0 if readonly else 1
        guarded = 0 if readonly else len(GUARDED) - EXPECTED["verify"]["guarded"]
        assert [report.events, report.entries, report.guarded] == [
            EXPECTED["verify"]["events"] + sealed,
            EXPECTED["verify"]["entries"],
            EXPECTED["verify"]["guarded"] + guarded,
        ]
        stats = bank.stats()
        expected = {**EXPECTED["stats"]}
        expected["audit_events"] += sealed
        assert {k: getattr(stats, k) for k in EXPECTED["stats"]} == expected
        assert bank.bank_id == EXPECTED["bank_id"]
        if readonly:  # the seal event moves the audit head of a bank opened for writing
            assert bank.fingerprint() == EXPECTED["fingerprint"]
        assert bank.views.count() == (0, 0)
        entries = [
            [e.id, sorted([s.kind, s.value] for s in e.signals), e.category, e.series, e.version]
            for e in bank.entries.all()
        ]
        assert entries == EXPECTED["entries"]
        assert {str(k): v for k, v in bank.provenance.conflicts().items()} == EXPECTED["conflicts"]
        assert sorted(bank.provenance.disputed()) == EXPECTED["disputed"]
        assert [[n, r is not None] for n, _, _, r in bank.trust.all_keys()] == EXPECTED[
            "trusted_keys"
        ]
        assert key_origins(bank) == EXPECTED["key_origins"]
        assert [[k.name, k.role, k.revoked is not None] for k in list_keys(bank)] == EXPECTED[
            "api_keys"
        ]
        assert [list(r) for r in bank.events.between("2025-01-01", "2026")] == EXPECTED["events"]


def test_an_old_bank_keeps_verifying_after_new_writes(old_bank: Path) -> None:
    with open_bank(old_bank) as bank:
        entry = bank.entries.by_id([1])[1]
        bank.provenance.vote(entry.id, "ngo", "dispute")
        assert bank.verify().ok, bank.verify().problems


def test_times_stored_in_whole_seconds_still_compare(old_bank: Path) -> None:
    """The old bank's named-bank times were stored as `...06Z`; they still decide matching."""
    with open_bank(old_bank, readonly=True) as bank:
        banks = NamedBanks(bank)
        stored = {b.name: b.disabled_until for b in banks.all()}
        assert stored.keys() == {n for n, _ in EXPECTED["named_banks"]}
        for name, until in EXPECTED["named_banks"]:
            same = until is None and stored[name] is None
            assert same or stored[name].rstrip("Z").startswith(until.rstrip("Z"))
        entry_one, entry_two = (
            Match(n, "md5", f"{n:032x}", 0, "csam-a", None, False) for n in (1, 2)
        )
        resolved = banks.resolve([entry_one, entry_two], coinflip=0.0)
        # entry 1: disabled in "mine" until 2030, live in "past" (disabled until 2001 only);
        # entry 2: in "mine", disabled until 2001 only
        assert {m.match.entry: m.banks for m in resolved.matches} == {1: ["past"], 2: ["mine"]}
        fp = banks.get("fp")  # stored as 2031-02-03T04:05:06Z
        assert not fp.enabled("2031-02-03T04:05:05.999999Z")
        assert fp.enabled("2031-02-03T04:05:06.000000Z")  # not a second late


def test_an_old_bank_gains_views_when_opened_for_writing(old_bank: Path) -> None:
    """Read-only it has no views and scans as before; opened for writing it is migrated, its
    old entries can be given views, and it still verifies."""
    with open_bank(old_bank, readonly=True) as bank:
        assert list(bank.views.all()) == []
    with open_bank(old_bank) as bank:
        assert bank.views.add({1: {"c3": "a" * 64, "-B12": "b" * 64}}) == [1]
        assert bank.views.of([1]) == {1: {"c3": "a" * 64, "-B12": "b" * 64}}
        report = bank.verify()
        assert report.ok, report.problems
    with open_bank(old_bank, readonly=True) as bank:
        assert bank.views.count() == (1, 2)
