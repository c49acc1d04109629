"""The fast lane (`/m/raw_lookup`, `/v1/match/hashes` of the simple shape) answers exactly as
the routes do, and a look-up answered on the event loop still sees every change at once."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.service import fastlane
from hashwarden.service.state import ServiceState
from hashwarden.signals.base import Signal

from .conftest import Service

BANKED = f"{random.Random(5).getrandbits(256):064x}"
MD5 = "3" * 32


def near(value: str, bits: int) -> str:
    """`value` with `bits` of its bits flipped."""
    number = int(value, 16)
    for bit in random.Random(bits).sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


@pytest.fixture
def lane_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths the fast lane parsed itself (the rest went to the routes)."""
    taken: list[str] = []
    for name in ("_raw_lookup_input", "_hashes_input"):
        real = getattr(fastlane, name)

        def parse(scope: Any, body: bytes, real: Any = real) -> Any:
            parsed = real(scope, body)
            if parsed is not None:
                taken.append(scope["path"])
            return parsed

        monkeypatch.setattr(fastlane, name, parse)
    yield taken


def _state(service: Service) -> ServiceState:
    state: ServiceState = service.client.app.state.hashwarden  # type: ignore[attr-defined]
    return state


def test_raw_lookups_answer_as_the_route_does(
    bank: Bank, service: Service, lane_taken: list[str]
) -> None:
    bank.entries.add(NewEntry([Signal("pdq", BANKED)], category="csam-b"))
    bank.entries.add(NewEntry([Signal("md5", MD5)]))
    c = service.client
    queries = [
        {"signal_type": "pdq", "signal": BANKED},
        {"signal_type": "pdq", "signal": near(BANKED, 9)},
        {"signal_type": "pdq", "signal": near(BANKED, 9), "include_distance": "true"},
        {"signal_type": "pdq", "signal": near(BANKED, 90), "include_distance": "1"},
        {"signal_type": "video_md5", "signal": MD5, "include_distance": "false"},
        {"signal_type": "pdq", "signal": BANKED, "banks": "default,other"},
        {"signal_type": "pdq", "signal": BANKED, "banks": "other"},
        {"signal_type": "pdq", "signal": "zz"},  # 422
        {"signal_type": "nonsense", "signal": "00"},  # 422
    ]
    for role in ("matcher", "admin", None):
        headers = service.as_(role) if role else {}
        for query in queries:
            fast = c.get("/m/raw_lookup", params=query, headers=headers)
            # an unknown parameter: the lane hands the request to the route
            slow = c.get("/m/raw_lookup", params={**query, "x": "1"}, headers=headers)
            assert (fast.status_code, fast.content) == (slow.status_code, slow.content), query
            assert fast.headers["content-type"] == slow.headers["content-type"]
    assert lane_taken.count("/m/raw_lookup") == 3 * len(queries)
    found = c.get("/m/raw_lookup", params=queries[2], headers=service.as_("admin")).json()
    assert found == {"matches": [{"bank_content_id": 1, "distance": "9"}]}


def test_hash_matches_answer_as_the_route_does(
    bank: Bank, service: Service, lane_taken: list[str]
) -> None:
    bank.entries.add(NewEntry([Signal("pdq", BANKED)], category="csam-b", series="série ü"))
    bank.entries.add(NewEntry([Signal("md5", MD5)]))
    c = service.client
    bodies: list[dict[str, Any]] = [
        {"signals": {"pdq": BANKED}},
        {"signals": {"pdq": near(BANKED, 5)}, "pdq_quality": 90},
        {"signals": {"pdq": near(BANKED, 5)}, "pdq_quality": 10},
        {"signals": {"pdq": near(BANKED, 120), "md5": MD5}, "uploader_ref": "u-1"},
        {"signals": {"md5": "4" * 32}, "pdq_quality": None, "uploader_ref": None},
        {"signals": {}},  # 422: no signals
        {"signals": {"pdq": "short"}},  # 422
    ]
    for role in ("matcher", "curator", None):
        headers = service.as_(role) if role else {}
        for body in bodies:
            fast = c.post("/v1/match/hashes", json=body, headers=headers)
            # an unknown field: the lane hands the request to the route (which ignores it)
            slow = c.post("/v1/match/hashes", json={**body, "x": 1}, headers=headers)
            assert (fast.status_code, fast.content) == (slow.status_code, slow.content), body
    assert lane_taken.count("/v1/match/hashes") == 3 * len(bodies)
    exact = c.post("/v1/match/hashes", json=bodies[0], headers=service.as_("curator")).json()
    assert [(m["entry"], m["series"], m["banks"]) for m in exact["matches"]] == [
        (1, "série ü", ["default"])
    ]


def test_requests_the_lane_does_not_parse_go_to_the_routes(
    service: Service, lane_taken: list[str]
) -> None:
    c, auth = service.client, service.as_("matcher")
    pdq = "ab" * 32
    odd = [
        c.get(f"/m/raw_lookup?signal_type=pdq&signal={pdq}&signal={pdq}", headers=auth),
        c.get(f"/m/raw_lookup?signal_type=pdq&signal={pdq}&include_distance=yes", headers=auth),
        c.get("/m/raw_lookup?signal_type=pdq", headers=auth),
        c.post("/v1/match/hashes", content=b"{not json", headers=auth),
        c.post("/v1/match/hashes", json={"signals": {"pdq": 7}}, headers=auth),
        c.post(
            "/v1/match/hashes", json={"signals": {"pdq": pdq}, "pdq_quality": "9"}, headers=auth
        ),
        c.post(
            "/v1/match/hashes",
            json={"signals": {"pdq": pdq}, "incident_time": "2026-01-01T00:00:00Z"},
            headers=auth,
        ),
    ]
    assert lane_taken == []
    assert [r.status_code for r in odd] == [200, 200, 422, 422, 422, 200, 200]
    assert odd[1].json() == {"matches": []}  # pydantic's "yes", as before


def test_a_change_is_seen_by_the_next_look_up(bank: Bank, service: Service) -> None:
    """Misses are answered on the loop from an index known to be current; an entry added or
    removed through any connection to the bank counts at the next request."""
    c, admin, curator = service.client, service.as_("admin"), service.as_("curator")
    query = {"signal_type": "pdq", "signal": near(BANKED, 3)}
    assert c.get("/m/raw_lookup", params=query, headers=admin).json() == {"matches": []}
    bank.entries.add(NewEntry([Signal("pdq", BANKED)]))  # another connection, as the CLI
    assert c.get("/m/raw_lookup", params=query, headers=admin).json() == {"matches": [1]}
    assert c.post("/v1/banks", json={"name": "api"}, headers=admin).status_code == 201
    other = near(BANKED, 60)
    hashes = {"signals": {"pdq": other}}
    assert c.post("/v1/match/hashes", json=hashes, headers=curator).json()["matches"] == []
    added = c.post("/v1/banks/api/entries", json={"signals": {"pdq": other}}, headers=curator)
    entry = added.json()["ids"][0]
    found = c.post("/v1/match/hashes", json=hashes, headers=curator).json()["matches"]
    assert [(m["entry"], m["banks"]) for m in found] == [(entry, ["api"])]
    assert c.delete(f"/v1/banks/api/entries/{entry}", headers=curator).status_code == 204
    assert c.post("/v1/match/hashes", json=hashes, headers=curator).json()["matches"] == []


def test_a_miss_on_a_local_bank_is_answered_without_a_thread(
    bank: Bank, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(service)
    full: list[str] = []
    for name in ("match_raw", "match_and_act"):
        real = getattr(state, name)

        def counted(*args: Any, real: Any = real, name: str = name, **kwargs: Any) -> Any:
            full.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(state, name, counted)
    c, admin = service.client, service.as_("admin")
    bank.entries.add(NewEntry([Signal("pdq", BANKED)]))
    for n in range(10):
        miss = f"{random.Random(100 + n).getrandbits(256):064x}"  # 128 bits off, or so
        c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": miss}, headers=admin)
        c.post("/v1/match/hashes", json={"signals": {"pdq": miss}}, headers=admin)
    c.post("/v1/match/hashes", json={"signals": {"pdq": BANKED}}, headers=admin)
    local = not str(bank.location).startswith("postgresql:")
    # the first look-up catches up with the bank in a thread; a match (which may act) goes there
    expected = 2 if local else 21
    assert len(full) == expected, full


def _counted_raw(state: ServiceState, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The raw look-ups answered by the full path (`match_raw`, in a thread)."""
    full: list[str] = []
    real = state.match_raw

    def counted(*args: Any, **kwargs: Any) -> Any:
        full.append("match_raw")
        return real(*args, **kwargs)

    monkeypatch.setattr(state, "match_raw", counted)
    return full


def test_an_exact_raw_match_on_a_local_bank_is_answered_without_a_thread(
    bank: Bank, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw look-up that matches needs only its entries' named banks (one read): answered on
    the loop as a miss is, the same answer as the full path's, for keys that may read the bank
    and keys that may only match."""
    c, admin, matcher = service.client, service.as_("admin"), service.as_("matcher")
    assert c.post("/v1/banks", json={"name": "api"}, headers=admin).status_code == 201
    c.post("/v1/banks/api/entries", json={"signals": {"pdq": BANKED}}, headers=admin)
    bank.entries.add(NewEntry([Signal("md5", MD5)]))
    for key in (admin, matcher):  # (the first look-ups catch up, and learn of suspensions)
        c.get("/m/raw_lookup", params={"signal_type": "md5", "signal": "0" * 32}, headers=key)
    full = _counted_raw(_state(service), monkeypatch)
    asked = [
        ({"signal_type": "pdq", "signal": BANKED}, matcher),
        ({"signal_type": "pdq", "signal": BANKED, "banks": "api"}, admin),
        ({"signal_type": "pdq", "signal": BANKED, "banks": "other"}, admin),
        ({"signal_type": "md5", "signal": MD5, "include_distance": "true"}, matcher),
        ({"signal_type": "md5", "signal": MD5, "banks": "api"}, admin),
    ]
    quick = [c.get("/m/raw_lookup", params=q, headers=key).json() for q, key in asked]
    local = not str(bank.location).startswith("postgresql:")
    assert len(full) == (0 if local else len(asked)), full
    assert quick == [
        {"matches": [1]},
        {"matches": [1]},
        {"matches": []},
        {"matches": [{"bank_content_id": 2, "distance": "0"}]},
        {"matches": []},
    ]
    slow = _state(service)
    monkeypatch.setattr(slow, "quick_match_raw", lambda *args: None, raising=False)
    assert [c.get("/m/raw_lookup", params=q, headers=k).json() for q, k in asked] == quick


def test_a_near_raw_match_for_a_key_that_may_not_read_goes_to_a_thread(
    bank: Bank, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its distance is blurred and its query watched for probing (which may suspend the key, a
    write): the full path's work, off the loop."""
    c, matcher = service.client, service.as_("matcher")
    bank.entries.add(NewEntry([Signal("pdq", BANKED)]))
    c.get("/m/raw_lookup", params={"signal_type": "md5", "signal": MD5}, headers=matcher)
    full = _counted_raw(_state(service), monkeypatch)
    query = {"signal_type": "pdq", "signal": near(BANKED, 3), "include_distance": "true"}
    assert c.get("/m/raw_lookup", params=query, headers=matcher).json()["matches"] != []
    assert full == ["match_raw"]
