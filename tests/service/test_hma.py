"""HMA 2's curation, matching and hashing API, route by route: each request as HMA's own tests
(OpenMediaMatch/tests/) send it, each answer in HMA's shape and status. HMA has no keys: the
requests here carry one (curation: a curator's, look-ups: a matcher's)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from hashwarden.bank import Bank
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.service.banks import NamedBanks
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service, png

# HMA's test_compare_hashes specimens: 9 bits apart.
SPECIMEN1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
SPECIMEN2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"
MD5 = "d35c785545392755e7e4164457657269"


def _pdq(seed: int) -> str:
    pdq = hash_bytes(png(seed)).pdq
    assert pdq is not None
    return pdq


def _bank(service: Service, name: str) -> None:
    """HMA's tests/utils.py create_bank."""
    made = service.client.post("/c/banks", json={"name": name}, headers=service.as_("curator"))
    assert made.status_code == 201
    assert made.json() == {"matching_enabled_ratio": 1.0, "name": name}


def _add_file(service: Service, bank: str, seed: int, **data: str) -> int:
    """Content added as HMA's clients upload it: a multipart file under its content type."""
    added = service.client.post(
        f"/c/bank/{bank}/content",
        files={"photo": ("p.png", png(seed), "image/png")},
        data=data,
        headers=service.as_("curator"),
    )
    assert added.status_code == 200, added.text
    return int(added.json()["id"])


# -- /c/banks, /c/bank/{name} ------------------------------------------------------------------


def test_banks_empty_index(service: Service) -> None:
    listed = service.client.get("/c/banks", headers=service.as_("curator"))
    assert listed.status_code == 200 and listed.json() == []


def test_banks_create(service: Service) -> None:
    c, curator = service.client, service.as_("curator")
    for bad in ("01_TEST_BANK", "my_test_bank"):  # HMA's names: UPPER_WITH_UNDERSCORE
        refused = c.post("/c/banks", json={"name": bad}, headers=curator)
        assert refused.status_code == 400 and refused.json()["message"]
    made = c.post("/c/banks", json={"name": "MY_TEST_BANK_01"}, headers=curator)
    assert made.status_code == 201
    assert made.json() == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
    assert c.get("/c/banks", headers=curator).json() == [made.json()]
    again = c.post("/c/banks", json={"name": "MY_TEST_BANK_01"}, headers=curator)
    assert again.status_code == 403 and again.json()["message"] == "Bank already exists"
    half = c.post("/c/banks", json={"name": "HALF", "enabled_ratio": 0.5}, headers=curator)
    assert half.json() == {"name": "HALF", "matching_enabled_ratio": 0.5}
    off = c.post("/c/banks", json={"name": "OFF", "enabled": False}, headers=curator)
    assert off.status_code == 201


def test_bank_show_by_name(service: Service) -> None:
    c, curator = service.client, service.as_("curator")
    _bank(service, "SHOWN")
    shown = c.get("/c/bank/SHOWN", headers=curator)
    assert shown.status_code == 200
    assert shown.json() == {"name": "SHOWN", "matching_enabled_ratio": 1.0}
    missing = c.get("/c/bank/MISSING", headers=curator)
    assert missing.status_code == 404 and missing.json()["message"]


def test_banks_update(service: Service) -> None:
    """HMA's test_banks_update: rename, `enabled`, `enabled_ratio`."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "MY_TEST_BANK")
    pdq = _pdq(71)
    content = c.post("/c/bank/MY_TEST_BANK/signal", json={"pdq": pdq}, headers=curator).json()
    bad = c.put("/c/bank/MY_TEST_BANK", json={"name": "1_invalid_name"}, headers=curator)
    assert bad.status_code == 400
    renamed = c.put("/c/bank/MY_TEST_BANK", json={"name": "MY_TEST_BANK_RENAMED"}, headers=curator)
    assert renamed.status_code == 200 and renamed.json()["name"] == "MY_TEST_BANK_RENAMED"
    off = c.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled": False}, headers=curator)
    assert off.status_code == 200 and off.json()["matching_enabled_ratio"] == 0
    half = c.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 0.5}, headers=curator)
    assert half.status_code == 200 and half.json()["matching_enabled_ratio"] == 0.5
    assert c.get("/c/banks", headers=curator).json() == [
        {"name": "MY_TEST_BANK_RENAMED", "matching_enabled_ratio": 0.5}
    ]
    # the content moved with the bank
    found = c.get(
        f"/m/lookup?signal_type=pdq&signal={pdq}&bypass_coinflip=true", headers=curator
    ).json()
    assert found == {"MY_TEST_BANK_RENAMED": [{"bank_content_id": content["id"], "distance": "0"}]}
    assert c.put("/c/bank/NOPE", json={"enabled": True}, headers=curator).status_code == 404
    _bank(service, "OTHER")
    taken = c.put("/c/bank/OTHER", json={"name": "MY_TEST_BANK_RENAMED"}, headers=curator)
    assert taken.status_code == 403
    # a rule naming the bank would stop applying to it: renaming is refused, naming the rule
    rule = {"name": "r", "bank": "OTHER", "report": True}
    assert c.post("/v1/actions/rules", json=rule, headers=service.as_("admin")).status_code == 201
    ruled = c.put("/c/bank/OTHER", json={"name": "OTHER_2"}, headers=curator)
    assert ruled.status_code == 400 and "action rule" in ruled.json()["message"]


def test_banks_delete(service: Service) -> None:
    """HMA's test_banks_delete; the bank's content goes with it, as in HMA (an entry another
    bank holds stays there)."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "MY_TEST_BANK")
    _bank(service, "KEPT")
    alone = c.post("/c/bank/MY_TEST_BANK/signal", json={"pdq": SPECIMEN1}, headers=curator)
    c.post("/c/bank/MY_TEST_BANK/signal", json={"video_md5": MD5}, headers=curator)
    shared = c.post("/c/bank/KEPT/signal", json={"video_md5": MD5}, headers=curator).json()["id"]
    done = c.delete("/c/bank/MY_TEST_BANK", headers=curator)
    assert done.status_code == 200 and done.json() == {"message": "Done"}
    gone = c.get(f"/m/raw_lookup?signal_type=pdq&signal={SPECIMEN1}", headers=curator).json()
    assert gone == {"matches": []} and alone.json()["id"] not in gone["matches"]
    kept = c.get(f"/m/lookup?signal_type=video_md5&signal={MD5}", headers=curator).json()
    assert kept == {"KEPT": [{"bank_content_id": shared, "distance": "0"}]}
    c.delete("/c/bank/KEPT", headers=curator)
    # deleting a bank that does not exist succeeds, as in HMA
    assert c.delete("/c/bank/MY_TEST_BANK", headers=curator).status_code == 200
    assert c.get("/c/banks", headers=curator).json() == []


def test_curation_needs_the_curator_role(service: Service) -> None:
    c = service.client
    assert c.get("/c/banks").status_code == 401
    refused = c.post("/c/banks", json={"name": "X"}, headers=service.as_("matcher"))
    assert refused.status_code == 403 and "message" in refused.json()
    assert c.delete("/c/bank/X", headers=service.as_("peer")).status_code == 403


# -- bank content ------------------------------------------------------------------------------


def test_banks_add_content_by_file(service: Service) -> None:
    """HMA's test_banks_add_content, with the file uploaded (hashwarden never fetches a URL)."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "NEW_BANK")
    added = c.post(
        "/c/bank/NEW_BANK/content",
        files={"photo": ("p.png", png(72), "image/png")},
        headers=curator,
    )
    assert added.status_code == 200, added.text
    body = added.json()
    assert set(body) == {"id", "signals"} and isinstance(body["id"], int)
    assert body["signals"]["pdq"] == _pdq(72)
    assert body["signals"]["video_md5"] == hash_bytes(png(72)).md5
    by_url = c.post(
        "/c/bank/NEW_BANK/content?url=http://127.0.0.1:9/x.jpg&content_type=photo",
        headers=curator,
    )
    assert by_url.status_code == 400 and "URL" in by_url.json()["message"]
    nothing = c.post("/c/bank/NEW_BANK/content", headers=curator)
    assert nothing.status_code == 400
    missing = c.post(
        "/c/bank/NOPE/content", files={"photo": ("p.png", png(72), "image/png")}, headers=curator
    )
    assert missing.status_code == 404


def test_banks_add_metadata_and_note(service: Service) -> None:
    """HMA's test_banks_add_metadata and note tests: metadata and note as form fields."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "NEW_BANK")
    invalid = c.post(
        "/c/bank/NEW_BANK/content",
        files={"photo": ("p.png", png(73), "image/png")},
        data={"metadata": '{"invalid_metadata": 5}'},
        headers=curator,
    )
    assert invalid.status_code == 400
    not_json = c.post(
        "/c/bank/NEW_BANK/content",
        files={"photo": ("p.png", png(73), "image/png")},
        data={"metadata": "{"},
        headers=curator,
    )
    assert not_json.status_code == 400
    too_long = c.post(
        "/c/bank/NEW_BANK/content",
        files={"photo": ("p.png", png(73), "image/png")},
        data={"note": "x" * 256},
        headers=curator,
    )
    assert too_long.status_code == 400
    metadata = {
        "content_id": "ext-id-123",
        "content_uri": "https://example.com/item/123",
        "json": {"source": "test", "nested": {"key": "value"}},
    }
    content_id = _add_file(
        service, "NEW_BANK", 73, metadata=json.dumps(metadata), note="Reported by user X"
    )
    got = c.get(f"/c/bank/NEW_BANK/content/{content_id}", headers=curator).json()
    assert got["metadata"] == {**metadata, "collab": None}  # HMA dumps every field
    assert got["note"] == "Reported by user X"
    without = c.get(
        f"/c/bank/NEW_BANK/content/{content_id}?include_metadata=false", headers=curator
    ).json()
    assert "metadata" not in without


def test_bank_add_hash_with_note(service: Service) -> None:
    """HMA's test_bank_add_hash_with_note: 200 (HMA's actual status), the note read back."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "TEST_BANK_HASH_NOTE")
    added = c.post(
        "/c/bank/TEST_BANK_HASH_NOTE/signal",
        json={"pdq": SPECIMEN1, "note": "Hash from campaign ABC"},
        headers=curator,
    )
    assert added.status_code == 200, added.text
    assert added.json()["signals"] == {"pdq": SPECIMEN1}
    content_id = added.json()["id"]
    got = c.get(f"/c/bank/TEST_BANK_HASH_NOTE/content/{content_id}", headers=curator)
    assert got.status_code == 200 and got.json()["note"] == "Hash from campaign ABC"
    md5 = c.post("/c/bank/TEST_BANK_HASH_NOTE/signal", json={"video_md5": MD5}, headers=curator)
    assert md5.status_code == 200 and md5.json()["signals"] == {"video_md5": MD5}


def test_bank_add_malformed_signals_are_400(service: Service) -> None:
    c, curator = service.client, service.as_("curator")
    _bank(service, "B")
    for body in ({"pdq": "banana"}, {"banana": "00"}, {}, {"note": "only a note"}):
        refused = c.post("/c/bank/B/signal", json=body, headers=curator)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["message"]
    missing = c.post("/c/bank/NOPE/signal", json={"pdq": SPECIMEN1}, headers=curator)
    assert missing.status_code == 404


def test_bank_get_content(service: Service) -> None:
    """HMA's test_bank_get_content, _404 and _with_signals."""
    c, curator = service.client, service.as_("curator")
    assert c.get("/c/bank/TEST_BANK_GET/content/1", headers=curator).status_code == 404
    _bank(service, "TEST_BANK_GET")
    assert c.get("/c/bank/TEST_BANK_GET/content/1", headers=curator).status_code == 404
    content_id = _add_file(service, "TEST_BANK_GET", 74)
    got = c.get(f"/c/bank/TEST_BANK_GET/content/{content_id}", headers=curator)
    assert got.status_code == 200
    assert got.json() == {
        "id": content_id,
        "disable_until_ts": 1,
        "original_media_uri": None,
        "bank": {"name": "TEST_BANK_GET", "matching_enabled_ratio": 1.0},
    }
    with_signals = c.get(
        f"/c/bank/TEST_BANK_GET/content/{content_id}?include_signals=true", headers=curator
    ).json()
    assert with_signals["signals"]["pdq"] == _pdq(74)
    # content of another bank is not this bank's
    _bank(service, "ELSEWHERE")
    assert c.get(f"/c/bank/ELSEWHERE/content/{content_id}", headers=curator).status_code == 404


def test_bank_update_content(service: Service) -> None:
    """HMA's test_bank_update_content, _400 and note updates."""
    c, curator, match = service.client, service.as_("curator"), service.as_("matcher")
    _bank(service, "TEST_BANK_UPDATE")
    content_id = _add_file(service, "TEST_BANK_UPDATE", 75)
    url = f"/c/bank/TEST_BANK_UPDATE/content/{content_id}"
    lookup = f"/m/lookup?signal_type=pdq&signal={_pdq(75)}"
    assert c.get(lookup, headers=match).json() != {}

    new_disable_ts = int((datetime.now() + timedelta(days=365)).timestamp())
    updated = c.put(url, json={"disable_until_ts": new_disable_ts}, headers=curator)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["disable_until_ts"] == new_disable_ts and body["id"] == content_id
    assert body["bank"] == {"name": "TEST_BANK_UPDATE", "matching_enabled_ratio": 1.0}
    assert {"collab_metadata", "original_media_uri", "user_metadata", "note"} <= set(body)
    assert c.get(lookup, headers=match).json() == {}  # disabled: no match
    assert c.get(url, headers=curator).json()["disable_until_ts"] == new_disable_ts

    for bad in (9999999999, -1, "soon", None):
        refused = c.put(url, json={"disable_until_ts": bad}, headers=curator)
        assert refused.status_code == 400, bad
    infinite = c.put(
        url,
        content=b'{"disable_until_ts": Infinity}',
        headers={**curator, "Content-Type": "application/json"},
    )
    assert infinite.status_code == 400

    assert c.put(url, json={"disable_until_ts": 1}, headers=curator).status_code == 200
    assert c.get(lookup, headers=match).json() != {}  # enabled again
    assert c.put(url, json={"disable_until_ts": 0}, headers=curator).json()["disable_until_ts"] == 0
    assert c.get(lookup, headers=match).json() == {}  # 0: disabled until enabled

    assert c.put(url, json={"note": "Initial note"}, headers=curator).status_code == 200
    assert c.get(url, headers=curator).json()["note"] == "Initial note"
    assert c.put(url, json={"note": ""}, headers=curator).status_code == 200
    assert "note" not in c.get(url, headers=curator).json()
    assert c.put(url, json={"note": "x" * 256}, headers=curator).status_code == 400
    assert c.put(url, json={"note": 5}, headers=curator).status_code == 400
    missing = c.put("/c/bank/TEST_BANK_UPDATE/content/999999", json={}, headers=curator)
    assert missing.status_code == 404


def test_banks_delete_content(service: Service) -> None:
    c, curator = service.client, service.as_("curator")
    _bank(service, "NEW_BANK")
    content_id = _add_file(service, "NEW_BANK", 76)
    deleted = c.delete(f"/c/bank/NEW_BANK/content/{content_id}", headers=curator)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 1}
    again = c.delete(f"/c/bank/NEW_BANK/content/{content_id}", headers=curator)
    assert again.status_code == 200 and again.json() == {"deleted": 0}
    assert c.get(f"/c/bank/NEW_BANK/content/{content_id}", headers=curator).status_code == 404
    assert c.delete("/c/bank/NOPE/content/1", headers=curator).status_code == 404


# -- signal types, content types, index ------------------------------------------------------


def test_signal_and_content_type_listings(service: Service) -> None:
    c, curator = service.client, service.as_("curator")
    signal_types = c.get("/c/signal_type", headers=curator)
    assert signal_types.status_code == 200
    names = {s["name"]: s["enabled_ratio"] for s in signal_types.json()}
    assert names["pdq"] == 1.0 and names["video_md5"] == 1.0
    content_types = c.get("/c/content_type", headers=curator).json()
    assert {"name": "photo", "enabled": True} in content_types
    assert {"name": "video", "enabled": True} in content_types
    switched = c.put("/c/signal_type/pdq", json={"enabled_ratio": 0.0}, headers=curator)
    assert switched.status_code == 405 and switched.json()["message"]


def test_index_status(service: Service) -> None:
    c, curator, match = service.client, service.as_("curator"), service.as_("matcher")
    _bank(service, "IDX")
    c.post("/c/bank/IDX/signal", json={"pdq": SPECIMEN1}, headers=curator)
    c.post("/c/bank/IDX/signal", json={"video_md5": MD5}, headers=curator)
    status = c.get("/m/index/status", headers=match).json()
    assert status["pdq"]["present"] is True and status["pdq"]["size"] == 1
    assert status["video_md5"]["size"] == 1
    assert status["pdq"]["built_to"] <= time.time() + 1
    only = c.get("/m/index/status?signal_type=pdq", headers=match).json()
    assert set(only) == {"pdq"}
    assert c.get("/m/index/status?signal_type=banana", headers=match).status_code == 400

    by_type = c.get("/c/signal_type/index", headers=curator).json()
    assert set(by_type["pdq"]) == {
        "db_size",
        "index_size",
        "index_out_of_date",
        "newest_db_item",
        "index_built_to",
    }
    assert by_type["pdq"]["db_size"] == by_type["pdq"]["index_size"] == 1
    assert by_type["pdq"]["index_out_of_date"] is False
    assert c.get("/c/signal_type/index?signal_type=banana", headers=curator).status_code == 400


# -- matching ----------------------------------------------------------------------------------


def test_lookup_with_bank_filter(service: Service) -> None:
    """HMA's test_lookup_with_bank_filter and test_raw_lookup_with_bank_filter (one entry in
    three banks: hashwarden answers one content id, which each bank lists)."""
    c, curator, match = service.client, service.as_("curator"), service.as_("matcher")
    ids = set()
    for name in ("BANK_A", "BANK_B", "BANK_C"):
        _bank(service, name)
        ids.add(
            c.post(f"/c/bank/{name}/signal", json={"pdq": SPECIMEN1}, headers=curator).json()["id"]
        )
    query = f"signal_type=pdq&signal={SPECIMEN1}"
    every = c.get(f"/m/lookup?{query}", headers=match).json()
    assert set(every) == {"BANK_A", "BANK_B", "BANK_C"}
    assert c.get(f"/m/lookup?{query}&banks=BANK_A", headers=match).json().keys() == {"BANK_A"}
    two = c.get(f"/m/lookup?{query}&banks=BANK_A,BANK_C", headers=match).json()
    assert set(two) == {"BANK_A", "BANK_C"}
    assert c.get(f"/m/lookup?{query}&banks=NON_EXISTENT_BANK", headers=match).json() == {}
    raw = c.get(f"/m/raw_lookup?{query}&banks=BANK_A", headers=match).json()
    assert raw == {"matches": sorted(ids)}
    none = c.get(f"/m/raw_lookup?{query}&banks=NON_EXISTENT_BANK", headers=match).json()
    assert none == {"matches": []}


def test_lookup_errors_are_400(service: Service) -> None:
    c, match = service.client, service.as_("matcher")
    for query in (
        "signal_type=pdq&signal=banana",
        "signal_type=banana&signal=00",
        "signal_type=pdq",
    ):
        for path in ("/m/lookup", "/m/raw_lookup"):
            refused = c.get(f"{path}?{query}", headers=match)
            expected = {400} if "signal=" in query else {400, 422}
            assert refused.status_code in expected, (path, query, refused.text)
            assert refused.json()["message"]


def test_compare_hashes(service: Service) -> None:
    """HMA's test_compare_hashes, every bad input included."""
    c, match = service.client, service.as_("matcher")
    happy = c.post("/m/compare", json={"pdq": [SPECIMEN1, SPECIMEN2]}, headers=match)
    assert happy.status_code == 200 and happy.json() == {"pdq": [True, {"distance": 9}]}
    bad_inputs = [
        ["banana"],
        {"pdq": "banana"},
        {"pdq": []},
        {"pdq": ["banana", "banana"]},
        {"pdq": [SPECIMEN1, SPECIMEN2, SPECIMEN1]},
        {"banana": [SPECIMEN1, SPECIMEN2]},
    ]
    for bad in bad_inputs:
        refused = c.post("/m/compare", json=bad, headers=match)
        assert refused.status_code == 400, bad
        assert refused.json()["message"]


def test_lookup_post_by_content_type_field(service: Service) -> None:
    """HMA's test_lookup_success: the file under `photo` (and under `video`)."""
    c, curator, match = service.client, service.as_("curator"), service.as_("matcher")
    _bank(service, "UP")
    content_id = _add_file(service, "UP", 77)
    for field in ("photo", "video"):
        found = c.post("/m/lookup", files={field: ("p.png", png(77), "image/png")}, headers=match)
        assert found.status_code == 200
        assert found.json()["pdq"] == {"UP": [{"bank_content_id": content_id, "distance": "0"}]}
    hashed = c.post("/h/hash", files={"photo": ("p.png", png(77), "image/png")}, headers=match)
    assert hashed.status_code == 200 and hashed.json()["pdq"] == _pdq(77)
    for field in ({}, {"photo": ("p.png", b"", "image/png")}):  # no file, an empty one
        assert c.post("/h/hash", files=field, headers=match).status_code == 400
        assert c.post("/m/lookup", files=field, headers=match).status_code == 400
    two = {"a": ("a.png", png(1), "image/png"), "b": ("b.png", png(2), "image/png")}
    assert c.post("/h/hash", files=two, headers=match).status_code == 400
    assert c.get("/m/lookup?url=http://127.0.0.1:9/x.jpg", headers=curator).status_code == 400


# -- exchanges ---------------------------------------------------------------------------------


def test_exchanges_listing_and_status(bank: Bank, service: Service, tmp_path: Path) -> None:
    c, curator = service.client, service.as_("curator")
    assert c.get("/c/exchanges", headers=curator).json() == []
    apis = c.get("/c/exchanges/apis", headers=curator).json()
    assert {"fb_threatexchange", "ncmec", "stop_ncii", "local_file"} <= set(apis)

    listing = tmp_path / "list.txt"
    listing.write_text(f"pdq {SPECIMEN1}\nvideo_md5 {MD5}\n")
    exchanges = ProgrammeExchanges(bank)
    exchanges.add("NCMEC_FILE", "file", config={"filename": str(listing)})
    never = c.get("/c/exchange/NCMEC_FILE/status", headers=curator).json()
    assert never == {
        "checkpoint_ts": None,
        "running_fetch_start_ts": None,
        "last_fetch_complete_ts": None,
        "last_fetch_succeeded": None,
        "up_to_date": False,
        "fetched_items": 0,
    }
    named = NamedBanks(bank)

    def into(name: str, ids: list[int]) -> None:
        try:
            named.get(name)
        except Exception:
            named.create(name, actor="test")
        named.add_members(name, ids, actor="test")

    exchanges.fetch("NCMEC_FILE", into_named_bank=into)

    assert c.get("/c/exchanges", headers=curator).json() == ["NCMEC_FILE"]
    shown = c.get("/c/exchange/NCMEC_FILE", headers=curator)
    assert shown.status_code == 200
    assert shown.json()["name"] == "NCMEC_FILE" and shown.json()["api"] == "local_file"
    assert shown.json()["enabled"] is True and shown.json()["filename"] == str(listing)
    assert "credentials" not in shown.json()
    status = c.get("/c/exchange/NCMEC_FILE/status", headers=curator).json()
    assert status["fetched_items"] == 2 and status["last_fetch_succeeded"] is True
    assert status["up_to_date"] is True and status["last_fetch_complete_ts"] > 0
    assert c.get("/c/exchange/NONEXISTENT_EXCHANGE/status", headers=curator).status_code == 404
    assert c.get("/c/exchange/NONEXISTENT_EXCHANGE", headers=curator).status_code == 404
    # the content fetched names its exchange, as HMA's collab metadata does
    raw = c.get(f"/m/raw_lookup?signal_type=pdq&signal={SPECIMEN1}", headers=curator).json()
    got = c.get(f"/c/bank/NCMEC_FILE/content/{raw['matches'][0]}", headers=curator).json()
    assert got["metadata"]["collab"] == {"NCMEC_FILE": [f"pdq {SPECIMEN1}"]}
    # configured with the CLI (credentials never travel through the API)
    created = c.post(
        "/c/exchanges", json={"api": "sample", "bank": "FOO", "api_json": {}}, headers=curator
    )
    assert created.status_code == 405 and "hashwarden exchange add" in created.json()["message"]
    assert c.delete("/c/exchange/NCMEC_FILE", headers=curator).status_code == 405


# -- app-level ---------------------------------------------------------------------------------


def test_status_live_and_ready(service: Service) -> None:
    c = service.client
    for path in ("/status", "/status/live", "/livez", "/readyz"):
        answer = c.get(path)
        assert answer.status_code == 200 and answer.text == "I-AM-ALIVE", path
    routes = c.get("/site-map").json()
    assert "/c/banks" in routes and "/m/lookup" in routes and routes == sorted(routes)


def test_upload_form_fields_are_bounded(service: Service) -> None:
    """The `metadata` and `note` fields beside an uploaded file: over 64 KiB or not UTF-8 is
    400; a file part named `note` is a file, not the note."""
    c, curator = service.client, service.as_("curator")
    _bank(service, "FIELDS")
    photo = {"photo": ("p.png", png(78), "image/png")}
    huge = json.dumps({"json": {"x": "y" * 70_000}})
    big = c.post("/c/bank/FIELDS/content", files=photo, data={"metadata": huge}, headers=curator)
    assert big.status_code == 400 and "metadata" in big.json()["message"]
    boundary = "hmaboundary"
    body = (
        (f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n').encode()
        + b"\xff\xfe\r\n"
        + (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="photo"; filename="p.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png(78)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**curator, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    not_utf8 = c.post("/c/bank/FIELDS/content", content=body, headers=headers)
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.json()["message"]
    as_file = c.post(
        "/c/bank/FIELDS/content",
        files={"note": ("note.txt", b"not a note", "text/plain")},
        headers=curator,
    )
    assert as_file.status_code == 200
    got = c.get(f"/c/bank/FIELDS/content/{as_file.json()['id']}", headers=curator).json()
    assert "note" not in got
