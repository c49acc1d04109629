"""Additions never lose data: overlapping records merge, bridges are refused, a re-add without
a category never lowers one, re-imports say what they did, and entries can be removed."""

from __future__ import annotations

import pytest

from hashwarden.bank import Bank, NewEntry
from hashwarden.errors import ConflictError, NotFoundError
from hashwarden.signals import Signal

MD5 = "d35c785545392755e7e4164457657269"
MD5_B = "69b0834fac1477a4397a0be6b6e55c1a"
SHA1 = "ea45d7166b30f98aac6af52f952193ce3083cb4c"
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def bank(any_bank: Bank) -> Bank:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_bank


def _signals(**values: str) -> list[Signal]:
    return [Signal(kind, value) for kind, value in values.items()]


def _last_event(bank: Bank) -> dict[str, object]:
    return list(bank.audit.events())[-1].detail


def test_overlapping_record_merges_its_new_signals(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5), "csam-b"))
    result = bank.entries.add_many([NewEntry(_signals(md5=MD5, sha256=SHA256, pdq=PDQ), "csam-b")])
    assert result.added == [] and result.merged == [entry_id] and result.matched == [entry_id]
    entry = bank.entries.get(entry_id)
    assert sorted(s.kind for s in entry.signals) == ["md5", "pdq", "sha256"]
    assert bank.entries.lookup("sha256", [SHA256]) == {SHA256: entry_id}
    assert bank.entries.lookup("pdq", [PDQ]) == {PDQ: entry_id}
    assert bank.stats().entries == 1
    event = _last_event(bank)
    assert event["merged"] == [entry_id]
    assert bank.verify().ok


def test_merge_fills_empty_fields_and_keeps_those_set(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5), "csam-b", note="first seen in case 1"))
    bank.entries.add_many(
        [
            NewEntry(
                _signals(md5=MD5, sha1=SHA1),
                "csam-b",
                series="bridge",
                note="another note",
                extra={"MediaID": 7},
            )
        ]
    )
    entry = bank.entries.get(entry_id)
    assert entry.series == "bridge" and entry.note == "first seen in case 1"
    assert entry.extra == {"MediaID": 7} and entry.signal("sha1") == SHA1
    assert bank.verify().ok


def test_records_overlapping_within_one_batch_merge(bank: Bank) -> None:
    result = bank.entries.add_many(
        [NewEntry(_signals(md5=MD5)), NewEntry(_signals(md5=MD5, sha1=SHA1))]
    )
    (entry_id,) = result.added
    assert result.merged == [entry_id]
    assert bank.entries.lookup("sha1", [SHA1]) == {SHA1: entry_id}
    assert bank.verify().ok


def test_record_bridging_two_entries_is_refused_and_changes_nothing(bank: Bank) -> None:
    first = bank.entries.add(NewEntry(_signals(md5=MD5), "csam-b"))
    second = bank.entries.add(NewEntry(_signals(sha256=SHA256), "cgi"))
    before = bank.stats()
    with pytest.raises(ConflictError) as info:
        bank.entries.add_many(
            [
                NewEntry(_signals(md5=MD5_B)),
                NewEntry(_signals(md5=MD5, sha256=SHA256, pdq=PDQ), "csam-a"),
            ]
        )
    assert f"entry {first}" in str(info.value) and f"entry {second}" in str(info.value)
    after = bank.stats()
    assert (after.entries, after.audit_events) == (before.entries, before.audit_events)
    assert bank.entries.lookup("md5", [MD5_B]) == {} and bank.entries.lookup("pdq", [PDQ]) == {}
    assert (
        bank.entries.get(first).category == "csam-b" and len(bank.entries.get(first).signals) == 1
    )
    assert bank.verify().ok


def test_add_entry_merges_new_signals_but_a_pure_duplicate_conflicts(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5), "csam-b"))
    assert bank.entries.add(NewEntry(_signals(md5=MD5, sha1=SHA1), "csam-b")) == entry_id
    assert bank.entries.get(entry_id).signal("sha1") == SHA1
    events = bank.stats().audit_events
    with pytest.raises(ConflictError, match=f"already in the bank as entry {entry_id}"):
        bank.entries.add(NewEntry(_signals(sha1=SHA1, md5=MD5), "csam-b"))
    assert bank.stats().audit_events == events
    assert bank.verify().ok


def test_a_claim_without_category_never_lowers_one(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5), "csam-b", source="hotline-uk"))
    result = bank.entries.add_many([NewEntry(_signals(md5=MD5), source="hotline-uk")])
    assert bank.entries.get(entry_id).category == "csam-b"
    assert [p[:2] for p in bank.provenance.claims(entry_id)] == [("hotline-uk", "csam-b")]
    assert (result.category_kept, result.category_updated) == (1, 0)
    # a category set by hand, then a re-add from an organisation that names none
    other = bank.entries.add(NewEntry(_signals(md5=MD5_B), source="platform"))
    bank.entries.update(other, category="csam-a")
    bank.entries.add_many([NewEntry(_signals(md5=MD5_B), source="platform")])
    bank.entries.add_many([NewEntry(_signals(md5=MD5_B), source="another-platform")])
    assert bank.entries.get(other).category == "csam-a"
    assert bank.verify().ok


def test_a_real_category_still_replaces_uncategorised(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5), source="platform"))
    result = bank.entries.add_many([NewEntry(_signals(md5=MD5), "csam-c", source="platform")])
    assert bank.entries.get(entry_id).category == "csam-c"
    assert result.category_updated == 1
    assert bank.verify().ok


def test_re_import_reports_updated_kept_and_conflicting(bank: Bank) -> None:
    local = bank.entries.add_many([NewEntry(_signals(md5=f"{i:032x}")) for i in range(1, 4)]).added
    raised = bank.entries.add_many(
        [NewEntry(_signals(md5=f"{i:032x}"), "csam-a") for i in (1, 2, 3)]
    )
    assert raised.added == [] and raised.matched == local
    assert (raised.category_updated, raised.category_kept, raised.category_conflicting) == (3, 0, 0)
    again = bank.entries.add_many(
        [NewEntry(_signals(md5=f"{i:032x}"), "csam-a") for i in (1, 2, 3)]
    )
    assert (again.category_updated, again.category_kept, again.category_conflicting) == (0, 3, 0)
    other = bank.entries.add_many([NewEntry(_signals(md5=f"{i:032x}"), "cgi") for i in (1, 2)])
    assert (other.category_updated, other.category_kept, other.category_conflicting) == (0, 0, 2)
    assert {bank.entries.get(i).category for i in local} == {"csam-a"}  # the bank keeps its own

    claimed = bank.entries.add(NewEntry(_signals(sha1=SHA1), "csam-b", source="police-se"))
    peer = bank.entries.add_many([NewEntry(_signals(sha1=SHA1), "csam-c", source="hotline-uk")])
    assert peer.category_conflicting == 1
    assert bank.entries.get(claimed).category == "csam-b"
    assert bank.provenance.conflicts() == {claimed: {"hotline-uk": "csam-c", "police-se": "csam-b"}}
    assert bank.verify().ok


def test_remove_by_signal_records_the_reason(bank: Bank) -> None:
    entry_id = bank.entries.add(NewEntry(_signals(md5=MD5, sha1=SHA1), "csam-b"))
    removed = bank.entries.remove_by_signal(
        Signal("sha1", SHA1), reason="false positive", actor="ana"
    )
    assert removed.id == entry_id
    assert bank.entries.lookup("md5", [MD5]) == {}
    event = list(bank.audit.events())[-1]
    assert (event.action, event.actor, event.detail["reason"]) == (
        "entry.remove",
        "ana",
        "false positive",
    )
    assert event.detail["signals"] == [["md5", MD5], ["sha1", SHA1]]
    with pytest.raises(NotFoundError, match="not in the bank"):
        bank.entries.remove_by_signal(Signal("md5", MD5))
    assert bank.verify().ok


def test_a_signal_listed_twice_is_stored_once_and_verifies(bank: Bank) -> None:
    md5 = Signal("md5", "a" * 32)
    entry_id = bank.entries.add(NewEntry([md5, md5], "csam-a"))
    assert bank.entries.get(entry_id).signals == [md5]
    assert bank.verify().ok
