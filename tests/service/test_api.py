"""Keys and roles, named banks, votes, HMA's routes and shapes, metrics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key, list_keys, revoke_key
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service, png

NEAR = 6  # bits flipped to make a near-duplicate PDQ hash


def _flip(pdq: str, bits: int) -> str:
    value = int(pdq, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def _pdq(seed: int) -> str:
    pdq = hash_bytes(png(seed)).pdq
    assert pdq is not None
    return pdq


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("matcher", {"match"}),
        ("reviewer", {"match", "vote"}),
        ("curator", {"match", "read", "write", "export", "vote"}),
        ("peer", {"read", "export"}),
        ("admin", {"match", "read", "write", "export", "vote"}),
    ],
)
def test_roles(service: Service, role: str, allowed: set[str]) -> None:
    c, auth = service.client, service.as_(role)
    c.post("/v1/banks", json={"name": "roles"}, headers=service.as_("admin"))
    entry = c.post(
        "/v1/banks/roles/entries",
        json={"signals": {"md5": "0" * 32}},
        headers=service.as_("admin"),
    ).json()["ids"][0]
    calls: dict[str, Any] = {
        "match": c.post("/v1/match/hashes", json={"signals": {"md5": "1" * 32}}, headers=auth),
        "read": c.get("/v1/banks/roles/entries", headers=auth),
        "export": c.get("/v1/banks/roles/export", headers=auth),
        "write": c.patch("/v1/banks/roles", json={"note": "x"}, headers=auth),
        "vote": c.post(f"/v1/entries/{entry}/votes", json={"vote": "confirm"}, headers=auth),
    }
    for permission, response in calls.items():
        expected = 200 if permission in allowed else 403
        assert response.status_code == expected, (role, permission, response.text)


def test_keys_missing_unknown_revoked_keyless_and_rate(bank: Bank) -> None:
    token = create_key(bank, "busy", "matcher", rate_per_minute=60)
    client = TestClient(create_app(ServiceSettings(), bank))
    body = {"signals": {"md5": "1" * 32}}
    assert client.post("/v1/match/hashes", json=body).status_code == 401
    bogus = {"Authorization": "Bearer hw_not-a-key"}
    assert client.post("/v1/match/hashes", json=body, headers=bogus).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/match/hashes", json=body, headers=auth).status_code == 200
    limited = client.post("/v1/match/hashes", json=body, headers=auth)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    revoke_key(bank, "busy")
    assert [k.revoked is not None for k in list_keys(bank)] == [True]
    fresh = TestClient(create_app(ServiceSettings(), bank))  # no cached answer
    assert fresh.post("/v1/match/hashes", json=body, headers=auth).status_code == 401
    keyless = TestClient(create_app(ServiceSettings(keyless_role="matcher"), bank))
    assert keyless.post("/v1/match/hashes", json=body).status_code == 200
    assert keyless.get("/v1/banks").status_code == 403


def test_named_banks_threshold_negative_and_disable(service: Service) -> None:
    c, admin, match = service.client, service.as_("admin"), service.as_("matcher")
    pdq = _pdq(31)
    near = _flip(pdq, NEAR)
    for bank in ({"name": "strict", "threshold": 2}, {"name": "loose"}):
        assert c.post("/v1/banks", json=bank, headers=admin).status_code == 201
    for name in ("strict", "loose"):
        r = c.post(f"/v1/banks/{name}/entries", json={"signals": {"pdq": pdq}}, headers=admin)
        assert r.status_code == 201, r.text

    def banks_of(value: str) -> list[list[str]]:
        """As a key that may read: exact thresholds (a matcher's bank edges are noisy, see
        test_match_privacy)."""
        curator = service.as_("curator")
        got = c.post("/v1/match/hashes", json={"signals": {"pdq": value}}, headers=curator)
        return [m["banks"] for m in got.json()["matches"]]

    assert banks_of(pdq) == [["strict", "loose"]] or banks_of(pdq) == [["loose", "strict"]]
    assert banks_of(near) == [["loose"]]  # 6 bits: over strict's threshold of 2
    near_match = c.post("/v1/match/hashes", json={"signals": {"pdq": near}}, headers=match)
    assert near_match.json()["matches"][0]["value"] == ""  # a matcher never sees a banked hash
    curator_view = c.post(
        "/v1/match/hashes", json={"signals": {"pdq": near}}, headers=service.as_("curator")
    )
    assert curator_view.json()["matches"][0]["value"] == pdq

    c.patch("/v1/banks/loose", json={"disabled_until": "2999-01-01"}, headers=admin)
    assert banks_of(near) == []
    c.patch("/v1/banks/loose", json={"disabled_until": ""}, headers=admin)
    entry = c.post(
        "/v1/match/hashes", json={"signals": {"pdq": near}}, headers=service.as_("curator")
    ).json()["matches"][0]["entry"]
    c.patch(
        f"/v1/banks/loose/entries/{entry}", json={"disabled_until": "2999-01-01"}, headers=admin
    )
    assert banks_of(near) == []

    # a negative bank holding the same content suppresses every match
    c.post("/v1/banks", json={"name": "false-positives", "negative": True}, headers=admin)
    c.post("/v1/banks/false-positives/entries", json={"signals": {"pdq": pdq}}, headers=admin)
    suppressed = c.post("/v1/match/hashes", json={"signals": {"pdq": pdq}}, headers=match).json()
    assert suppressed["matches"] == [] and suppressed["suppressed_by"] == ["false-positives"]


def test_bank_errors_have_clear_statuses(service: Service) -> None:
    c, admin = service.client, service.as_("admin")
    assert c.post("/v1/banks", json={"name": "a b"}, headers=admin).status_code == 400
    assert c.post("/v1/banks", json={"name": "ok"}, headers=admin).status_code == 201
    assert c.post("/v1/banks", json={"name": "ok"}, headers=admin).status_code == 409
    assert c.get("/v1/banks/missing", headers=admin).status_code == 404
    bad_hash = c.post("/v1/banks/ok/entries", json={"signals": {"md5": "xyz"}}, headers=admin)
    assert bad_hash.status_code == 422
    bad_category = c.post(
        "/v1/banks/ok/entries",
        json={"signals": {"md5": "0" * 32}, "category": "nonsense"},
        headers=admin,
    )
    assert bad_category.status_code in (400, 422)
    assert c.delete("/v1/banks/ok/entries/999", headers=admin).status_code == 404
    assert c.patch("/v1/banks/ok", json={"threshold": 999}, headers=admin).status_code == 422


def test_votes_and_audit_name_the_key(bank: Bank, service: Service) -> None:
    c = service.client
    c.post("/v1/banks", json={"name": "v"}, headers=service.as_("admin"))
    entry = c.post(
        "/v1/banks/v/entries",
        json={"signals": {"sha1": "a" * 40}, "category": "A"},
        headers=service.as_("curator"),
    ).json()["ids"][0]
    vote = c.post(
        f"/v1/entries/{entry}/votes",
        json={"vote": "dispute", "reason": "not what it says"},
        headers=service.as_("reviewer"),
    )
    assert vote.status_code == 200 and vote.json()["by"] == "reviewer-key"
    actors = {(e.actor, e.action) for e in bank.audit.events()}
    assert {("admin-key", "bank.create"), ("curator-key", "entry.add")} <= actors
    assert ("reviewer-key", "entry.vote") in actors


def test_hma_client(service: Service) -> None:
    """The calls an HMA client makes, answered in HMA's shapes."""
    c, admin, match = service.client, service.as_("admin"), service.as_("matcher")
    assert c.get("/status").text == "I-AM-ALIVE"
    assert c.post("/c/banks", json={"name": "HMA_BANK"}, headers=admin).json() == {
        "name": "HMA_BANK",
        "matching_enabled_ratio": 1.0,
    }
    assert c.post("/c/banks", json={"name": "HMA_BANK"}, headers=admin).status_code == 403
    image = png(41)
    pdq = _pdq(41)
    added = c.post("/c/bank/HMA_BANK/signal", json={"pdq": pdq}, headers=admin)
    assert added.status_code == 200 and added.json()["signals"] == {"pdq": pdq}
    content_id = added.json()["id"]
    assert c.get("/c/banks", headers=admin).json() == [
        {"name": "HMA_BANK", "matching_enabled_ratio": 1.0}
    ]

    near = _flip(pdq, NEAR)
    raw = c.get(f"/m/raw_lookup?signal_type=pdq&signal={near}", headers=match).json()
    assert raw == {"matches": [content_id]}
    with_distance = c.get(
        f"/m/raw_lookup?signal_type=pdq&signal={near}&include_distance=true", headers=match
    ).json()
    # a matcher sees a near match's distance as the threshold it was within (31), in HMA's
    # shape; a key that may read the bank sees the exact one
    assert with_distance == {"matches": [{"bank_content_id": content_id, "distance": "31"}]}
    lookup = c.get(f"/m/lookup?signal_type=pdq&signal={near}", headers=match).json()
    assert lookup == {"HMA_BANK": [{"bank_content_id": content_id, "distance": "31"}]}
    exact = c.get(f"/m/lookup?signal_type=pdq&signal={near}", headers=admin).json()
    assert exact == {"HMA_BANK": [{"bank_content_id": content_id, "distance": "6"}]}
    exact_raw = c.get(
        f"/m/raw_lookup?signal_type=pdq&signal={near}&include_distance=true", headers=admin
    ).json()
    assert exact_raw == {"matches": [{"bank_content_id": content_id, "distance": "6"}]}
    posted = c.post("/m/lookup", files={"photo": ("p.png", image, "image/png")}, headers=match)
    assert posted.json()["pdq"] == {"HMA_BANK": [{"bank_content_id": content_id, "distance": "0"}]}
    hashed = c.post("/h/hash", files={"photo": ("p.png", image, "image/png")}, headers=match)
    assert hashed.json()["pdq"] == pdq and "video_md5" in hashed.json()
    assert c.get("/h/hash?url=http://example.invalid/x.jpg", headers=match).status_code == 400
    compare = c.post("/m/compare", json={"pdq": [pdq, near]}, headers=match).json()
    assert compare == {"pdq": [True, {"distance": 6}]}
    assert c.post("/m/compare", json={"pdq": [pdq]}, headers=match).status_code == 400
    status = c.get("/m/index/status", headers=match).json()
    assert status["pdq"]["present"] is True and status["pdq"]["size"] == 1


def test_status_and_metrics(service: Service) -> None:
    c = service.client
    c.post("/v1/match/hashes", json={"signals": {"md5": "1" * 32}}, headers=service.as_("matcher"))
    status = c.get("/status", headers={"Accept": "application/json"}).json()
    assert status["index_loaded"] is True and status["index_age_s"] >= 0
    metrics = c.get("/metrics").text
    assert 'hashwarden_requests_total{method="POST",route="/v1/match/hashes",status="200"}' in (
        metrics
    )
    assert "hashwarden_index_pdq_hashes" in metrics
    assert "testclient" not in metrics  # no client address in any label


def test_hma_lookup_runs_the_action_rules(service: Service) -> None:
    """An HMA client's lookup is a platform's upload check: it drafts a report when a rule
    says so; a raw lookup (a curator's query) does not."""
    c, admin = service.client, service.as_("admin")
    c.post("/c/banks", json={"name": "ACT"}, headers=admin)
    pdq = _pdq(61)
    c.post("/c/bank/ACT/signal", json={"pdq": pdq}, headers=admin)
    rule = c.post("/v1/actions/rules", json={"name": "draft", "report": True}, headers=admin)
    assert rule.status_code == 201, rule.text
    match = service.as_("matcher")
    c.get(f"/m/raw_lookup?signal_type=pdq&signal={pdq}", headers=match)
    assert c.get("/v1/reports", headers=service.as_("reviewer")).json() == []
    c.post("/m/lookup", files={"photo": ("p.png", png(61), "image/png")}, headers=match)
    reports = c.get("/v1/reports", headers=service.as_("reviewer")).json()
    assert len(reports) == 1 and reports[0]["status"] == "pending"


def test_hma_re_add_without_category_keeps_the_category(service: Service) -> None:
    """Re-adding a hash through HMA's route (which names no category) never lowers one."""
    c, admin, curator = service.client, service.as_("admin"), service.as_("curator")
    c.post("/c/banks", json={"name": "HMA_BANK"}, headers=admin)
    pdq = _pdq(43)
    first = c.post(
        "/v1/banks/HMA_BANK/entries",
        json={"signals": {"pdq": pdq}, "category": "csam-b"},
        headers=admin,
    )
    entry_id = first.json()["ids"][0]
    again = c.post("/c/bank/HMA_BANK/signal", json={"pdq": pdq}, headers=admin)
    assert again.status_code == 200 and again.json()["id"] == entry_id
    assert c.get(f"/v1/entries/{entry_id}", headers=admin).json()["category"] == "csam-b"
    # categorised by hand after an uncategorised HMA add, then re-added by two keys
    other = c.post("/c/bank/HMA_BANK/signal", json={"pdq": _pdq(44)}, headers=admin).json()["id"]
    patched = c.patch(
        f"/v1/banks/HMA_BANK/entries/{other}", json={"category": "csam-a"}, headers=admin
    )
    assert patched.status_code == 200
    c.post("/c/bank/HMA_BANK/signal", json={"pdq": _pdq(44)}, headers=admin)
    c.post("/c/bank/HMA_BANK/signal", json={"pdq": _pdq(44)}, headers=curator)
    assert c.get(f"/v1/entries/{other}", headers=admin).json()["category"] == "csam-a"


def test_added_hashes_merge_or_are_refused_naming_both_entries(service: Service) -> None:
    c, admin = service.client, service.as_("admin")
    c.post("/v1/banks", json={"name": "b"}, headers=admin)
    md5, sha1 = "d35c785545392755e7e4164457657269", "ea45d7166b30f98aac6af52f952193ce3083cb4c"
    one = c.post("/v1/banks/b/entries", json={"signals": {"md5": md5}}, headers=admin).json()
    merged = c.post(
        "/v1/banks/b/entries", json={"signals": {"md5": md5, "sha1": sha1}}, headers=admin
    )
    assert merged.status_code == 201 and merged.json()["ids"] == one["ids"]
    assert c.get(f"/v1/entries/{one['ids'][0]}", headers=admin).json()["signals"] == {
        "md5": md5,
        "sha1": sha1,
    }
    two = c.post("/v1/banks/b/entries", json={"signals": {"md5": "1" * 32}}, headers=admin).json()
    bridge = c.post(
        "/v1/banks/b/entries", json={"signals": {"sha1": sha1, "md5": "1" * 32}}, headers=admin
    )
    assert bridge.status_code == 409
    message = str(bridge.json())
    assert f"entry {one['ids'][0]}" in message and f"entry {two['ids'][0]}" in message
