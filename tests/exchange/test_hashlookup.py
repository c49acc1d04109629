"""CIRCL hashlookup's answers from a bank: known-good sets answer as known files, banked
material with hashwarden's fields, unknown hashes 404, malformed ones 400, as hashlookup's
server does; never an exception on any request."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.exchange.hashlookup import MAX_BULK, HashLookup
from hashwarden.signals import Signal

BANKED_MD5 = "d35c785545392755e7e4164457657269"
BANKED_SHA1 = "a" * 40
GOOD_SHA1 = "b" * 40
GOOD_MD5 = "c" * 32
UNKNOWN_MD5 = "e" * 32


def _bank(path: Path) -> Bank:
    bank = create_bank(path)
    bank.entries.add(
        NewEntry(
            [Signal("md5", BANKED_MD5), Signal("sha1", BANKED_SHA1)],
            "csam-b",
            "series-1",
            source="hotline-a",
            extra={"exchange:ncmec": {"id": "ncmec-17", "tags": ["A1"]}},
        )
    )
    bank.known_good.add("nsrl", [Signal("sha1", GOOD_SHA1), Signal("md5", GOOD_MD5)])
    return bank


def test_lookups_answer_in_hashlookups_shapes(tmp_path: Path) -> None:
    with _bank(tmp_path / "b.db") as bank:
        lookup = HashLookup(bank, name="hotline-bank")
        status, record = lookup.lookup("md5", BANKED_MD5.upper())
        assert status == 200
        assert record["MD5"] == BANKED_MD5.upper() and record["SHA-1"] == BANKED_SHA1.upper()
        assert record["KnownMalicious"] == "hotline-bank" and record["hashlookup:trust"] == 0
        assert record["hashwarden:category"] == "csam-b"
        assert record["hashwarden:series"] == "series-1"
        assert record["hashwarden:source"] == "hotline-a"
        assert record["hashwarden:exchanges"] == {"ncmec": {"id": "ncmec-17", "tags": ["A1"]}}
        status, record = lookup.lookup("sha1", GOOD_SHA1)
        assert status == 200 and record["SHA-1"] == GOOD_SHA1.upper()
        assert record["source"] == "nsrl" and record["hashlookup:trust"] == 100
        assert "KnownMalicious" not in record
        assert lookup.lookup("md5", UNKNOWN_MD5) == (
            404,
            {"message": "Non existing MD5", "query": UNKNOWN_MD5},
        )
        assert lookup.lookup("sha1", "a" * 39) == (400, {"message": "Expecting a SHA-1 hex value"})
        assert lookup.lookup("sha256", "z" * 64) == (
            400,
            {"message": "SHA-256 is not in hex format"},
        )
        assert lookup.lookup("crc32", "0" * 8)[0] == 404


def test_bulk_answers_the_known_hashes_in_order(tmp_path: Path) -> None:
    with _bank(tmp_path / "b.db") as bank:
        lookup = HashLookup(bank)
        status, records = lookup.bulk(
            "md5", {"hashes": [UNKNOWN_MD5, GOOD_MD5, BANKED_MD5.upper(), "nothex"]}
        )
        assert status == 200
        assert [r["MD5"] for r in records] == [GOOD_MD5.upper(), BANKED_MD5.upper()]
        assert records[1]["hashwarden:entry"] == 1
        assert lookup.bulk("sha1", {"hashes": []}) == (200, [])
        assert lookup.bulk("md5", {"hash": []})[0] == 400
        assert lookup.bulk("md5", {"hashes": [1, 2]})[0] == 400
        assert lookup.bulk("md5", {"hashes": [GOOD_MD5] * (MAX_BULK + 1)})[0] == 413
        assert lookup.bulk("sha256", {"hashes": []})[0] == 404
        info = lookup.info()
        assert info["hashwarden-entries"] == "1" and info["known-good-nsrl-items"] == "2"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["md5", "sha1", "sha256", "pdq", ""]),
    value=st.text(max_size=80),
    payload=_JSON | st.fixed_dictionaries({"hashes": _JSON}),
)
def test_any_request_is_an_answer(tmp_path: Path, kind: str, value: str, payload: object) -> None:
    location = tmp_path / "h.db"
    if not location.exists():
        _bank(location).close()
    from hashwarden.bank import open_bank

    with open_bank(location, readonly=True) as bank:
        lookup = HashLookup(bank)
        status, body = lookup.lookup(kind, value)
        assert status in (200, 400, 404) and isinstance(body, dict)
        status, body = lookup.bulk(kind, payload)
        assert status in (200, 400, 404, 413)
