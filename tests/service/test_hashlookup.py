"""CIRCL hashlookup's API under /hashlookup/, on SQLite and PostgreSQL: a banked MD5 and a
known-good SHA-1 are found, an unknown hash is not, in hashlookup's shapes; a key that may only
match sees no more of a banked hash than it asked."""

from __future__ import annotations

from hashwarden.bank import Bank, NewEntry
from hashwarden.signals import Signal
from tests.service.conftest import Service

BANKED_MD5 = "d35c785545392755e7e4164457657269"
BANKED_SHA1 = "a" * 40
GOOD_SHA1 = "b" * 40


def _fill(bank: Bank) -> None:
    bank.entries.add(
        NewEntry([Signal("md5", BANKED_MD5), Signal("sha1", BANKED_SHA1)], "csam-b", "s1")
    )
    bank.known_good.add("nsrl", [Signal("sha1", GOOD_SHA1)])


def test_hashlookup_routes(bank: Bank, service: Service) -> None:
    _fill(bank)
    client, curator = service.client, service.as_("curator")
    r = client.get(f"/hashlookup/lookup/md5/{BANKED_MD5}", headers=curator)
    assert r.status_code == 200, r.text
    assert r.json()["SHA-1"] == BANKED_SHA1.upper() and r.json()["hashwarden:series"] == "s1"
    r = client.get(f"/hashlookup/lookup/sha1/{GOOD_SHA1.upper()}", headers=curator)
    assert r.status_code == 200 and r.json()["source"] == "nsrl", r.text
    r = client.get(f"/hashlookup/lookup/md5/{'e' * 32}", headers=curator)
    assert r.status_code == 404 and r.json()["message"] == "Non existing MD5"
    r = client.get("/hashlookup/lookup/md5/xyz", headers=curator)
    assert r.status_code == 400 and r.json() == {"message": "Expecting a MD5 hex value"}
    r = client.post(
        "/hashlookup/bulk/sha1", headers=curator, json={"hashes": [GOOD_SHA1, "c" * 40]}
    )
    assert r.status_code == 200 and [x["SHA-1"] for x in r.json()] == [GOOD_SHA1.upper()]
    for body in (b"{", b"[" * 100_000, b'{"hashes": 3}'):
        r = client.post("/hashlookup/bulk/md5", headers=curator, content=body)
        assert r.status_code == 400, (body[:10], r.text)
    r = client.get("/hashlookup/info", headers=curator)
    assert r.status_code == 200 and r.json()["known-good-nsrl-items"] == "1"
    assert client.get("/hashlookup/info").status_code == 401  # a key is needed


def test_a_matcher_sees_only_the_hash_it_asked(bank: Bank, service: Service) -> None:
    _fill(bank)
    r = service.client.get(f"/hashlookup/lookup/md5/{BANKED_MD5}", headers=service.as_("matcher"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "MD5": BANKED_MD5.upper(),
        "KnownMalicious": "hashwarden",
        "hashlookup:trust": 0,
        "hashwarden:entry": 1,
        "hashwarden:category": "csam-b",
    }
