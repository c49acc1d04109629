"""CIRCL hashlookup's API under /hashlookup/, on SQLite and PostgreSQL: a banked MD5 and a
known-good SHA-1 are found, an unknown hash is not, in hashlookup's shapes (and as CIRCL's own
client, pyhashlookup, reads them); a key that may only match sees no more of a banked hash than
it asked."""

from __future__ import annotations

import socket
import threading

import uvicorn

from hashwarden.bank import Bank, NewEntry
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key
from hashwarden.signals import Signal
from tests.service.conftest import Service
from tests.service.test_actions import _wait

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


def test_circls_own_client_finds_and_misses(bank: Bank) -> None:
    """pyhashlookup, CIRCL's Python client, against a real server on loopback."""
    from pyhashlookup import Hashlookup

    _fill(bank)
    key = create_key(bank, "lookup-key", "matcher")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(ServiceSettings(), bank)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started)
        client = Hashlookup(root_url=f"http://127.0.0.1:{port}/hashlookup/")
        client.session.trust_env = False  # loopback only, whatever proxy the machine names
        client.session.headers["Authorization"] = f"Bearer {key}"
        found = client.md5_lookup(BANKED_MD5)
        assert found["MD5"] == BANKED_MD5.upper() and found["KnownMalicious"] == "hashwarden"
        good = client.sha1_lookup(GOOD_SHA1)
        assert good["SHA-1"] == GOOD_SHA1.upper() and good["source"] == "nsrl"
        assert client.md5_lookup("e" * 32)["message"] == "Non existing MD5"
        assert [x["MD5"] for x in client.md5_bulk_lookup([BANKED_MD5, "e" * 32])] == [
            BANKED_MD5.upper()
        ]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
