"""The central side of the endpoint agent (`hashwarden watch`): alerts and heartbeats in the
match service, on SQLite and PostgreSQL banks alike."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service, png

SHA = "ab" * 32
PDQ_BANKED = "f" * 16 + "0" * 48


def alert(key: str = "k-0000000000000001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotency_key": key,
        "agent": "laptop-17",
        "host": "laptop-17.example.org",
        "user": "alice",
        "path": "/home/alice/Downloads/IMG_0001.jpg",
        "size": 123456,
        "times": {"modified": "2026-03-01T10:00:00Z", "changed": "2026-03-01T10:00:00Z"},
        "hashes": {"md5": "1" * 32, "sha256": SHA, "pdq": PDQ_BANKED},
        "matches": [
            {
                "entry": 7,
                "kind": "pdq",
                "value": PDQ_BANKED,
                "distance": 4,
                "category": "A",
                "series": "s-1",
                "victim_identified": False,
                "orientation": "flip_horizontal",
            }
        ],
        "noticed_by": "watch",
        "agent_version": "0.1.0",
        "bank_version": "origin-1:12",
        "detected": "2026-03-01T10:00:01Z",
    }
    body.update(changes)
    return body


def _events(bank: Bank) -> list[tuple[Any, ...]]:
    return bank.db.query("SELECT channel, outcome, category, series FROM events")


def test_the_agent_role_posts_alerts_and_heartbeats_only(service: Service) -> None:
    c = service.client
    agent = service.as_("agent")
    beat = {"agent": "laptop-17", "host": "laptop-17.example.org", "interval_s": 60}
    assert c.post("/v1/alerts", json=alert(), headers=agent).status_code == 201
    assert c.post("/v1/agents/heartbeat", json=beat, headers=agent).status_code == 204
    for method, path in (
        ("GET", "/v1/alerts"),
        ("GET", "/v1/agents"),
        ("POST", "/v1/alerts/1/close"),
        ("GET", "/v1/banks"),
        ("GET", "/v1/reports"),
    ):
        assert c.request(method, path, headers=agent).status_code == 403, path
    denied = c.post("/v1/match/hashes", json={"signals": {"sha256": SHA}}, headers=agent)
    assert denied.status_code == 403
    # reviewers read alerts and agents but may not post them; matchers see none of it
    reviewer = service.as_("reviewer")
    assert (
        c.post("/v1/alerts", json=alert("k-0000000000000002"), headers=reviewer).status_code == 403
    )
    assert c.get("/v1/alerts", headers=reviewer).status_code == 200
    assert c.get("/v1/agents", headers=reviewer).status_code == 200
    for role in ("matcher", "curator", "peer"):
        assert c.get("/v1/alerts", headers=service.as_(role)).status_code == 403, role
    assert c.post("/v1/alerts", json=alert("k-0000000000000003")).status_code == 401


def test_the_same_alert_sent_twice_is_stored_once(service: Service, bank: Bank) -> None:
    c, agent = service.client, service.as_("agent")
    first = c.post("/v1/alerts", json=alert(), headers=agent)
    again = c.post("/v1/alerts", json=alert(), headers=agent)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert first.json() == {"id": again.json()["id"], "duplicate": False}
    assert again.json()["duplicate"] is True
    listed = c.get("/v1/alerts", headers=service.as_("reviewer")).json()
    assert [a["id"] for a in listed] == [first.json()["id"]]
    # counted once in the statistics, as a device, without path or host
    assert _events(bank) == [("device", "known", "csam-a", "s-1")]
    # another agent cannot claim (or hide behind) a key already used
    other = c.post("/v1/alerts", json=alert(agent="desktop-2"), headers=agent)
    assert other.status_code == 409, other.text


def test_an_alert_lists_what_a_reviewer_needs(service: Service, bank: Bank) -> None:
    registry = default_registry()
    entry = bank.entries.add(NewEntry([registry.signal("pdq", PDQ_BANKED)], category="csam-a"))
    c = service.client
    made = c.post("/v1/alerts", json=alert(), headers=service.as_("agent"))
    (item,) = c.get("/v1/alerts", headers=service.as_("reviewer")).json()
    assert item["id"] == made.json()["id"]
    assert item["host"] == "laptop-17.example.org" and item["user"] == "alice"
    assert item["path"] == "/home/alice/Downloads/IMG_0001.jpg"
    assert item["sha256"] == SHA and item["size"] == 123456
    assert item["received"] and item["status"] == "open"
    assert item["times"]["modified"] == "2026-03-01T10:00:00.000000Z"
    assert item["agent_version"] == "0.1.0" and item["bank_version"] == "origin-1:12"
    (match,) = item["matches"]
    assert match["central_entry"] == entry  # the agent's entry id is its own bank's
    assert (match["entry"], match["distance"], match["orientation"]) == (7, 4, "flip_horizontal")
    assert match["category"] == "csam-a" and item["category"] == "csam-a"
    single = c.get(f"/v1/alerts/{item['id']}", headers=service.as_("reviewer"))
    assert single.json() == item
    assert c.get("/v1/alerts/999", headers=service.as_("reviewer")).status_code == 404


def test_alerts_are_filtered_by_agent_status_and_time(service: Service) -> None:
    c, agent, reviewer = service.client, service.as_("agent"), service.as_("reviewer")
    c.post("/v1/alerts", json=alert("k-000000000000000a"), headers=agent)
    c.post("/v1/alerts", json=alert("k-000000000000000b", agent="desktop-2"), headers=agent)
    second = c.get("/v1/alerts/2", headers=reviewer).json()["received"]
    c.post("/v1/alerts/1/acknowledge", json={"note": "on it"}, headers=reviewer)

    def ids(**query: str) -> list[int]:
        return [a["id"] for a in c.get("/v1/alerts", params=query, headers=reviewer).json()]

    assert ids() == [1, 2]
    assert ids(agent="desktop-2") == [2]
    assert ids(status="acknowledged") == [1] and ids(status="open") == [2]
    assert ids(since=second) == [2]
    assert ids(until=second) == [1]
    assert ids(after="1") == [2] and ids(limit="1") == [1]
    assert c.get("/v1/alerts", params={"status": "gone"}, headers=reviewer).status_code == 422


def test_acknowledge_and_close_with_a_note_audited(service: Service, bank: Bank) -> None:
    c, reviewer = service.client, service.as_("reviewer")
    alert_id = c.post("/v1/alerts", json=alert(), headers=service.as_("agent")).json()["id"]
    acked = c.post(
        f"/v1/alerts/{alert_id}/acknowledge", json={"note": "SOC ticket 12"}, headers=reviewer
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["decided_by"] == "reviewer-key" and acked.json()["note"] == "SOC ticket 12"
    closed = c.post(
        f"/v1/alerts/{alert_id}/close", json={"note": "police informed"}, headers=reviewer
    )
    assert closed.json()["status"] == "closed" and closed.json()["note"] == "police informed"
    assert c.post(f"/v1/alerts/{alert_id}/close", headers=reviewer).status_code == 409
    assert c.post(f"/v1/alerts/{alert_id}/acknowledge", headers=reviewer).status_code == 409
    assert c.post("/v1/alerts/999/close", headers=reviewer).status_code == 404
    actions = [(e.actor, e.action) for e in bank.audit.events() if e.action.startswith("alert.")]
    assert actions == [
        ("agent-key", "alert.receive"),
        ("reviewer-key", "alert.acknowledge"),
        ("reviewer-key", "alert.close"),
    ]
    assert bank.verify().ok, bank.verify().problems


def test_an_alert_runs_the_action_rules(service: Service) -> None:
    c, admin = service.client, service.as_("admin")
    rule = c.post("/v1/actions/rules", json={"name": "soc", "report": True}, headers=admin)
    assert rule.status_code == 201, rule.text
    alert_id = c.post("/v1/alerts", json=alert(), headers=service.as_("agent")).json()["id"]
    reports: list[dict[str, Any]] = []
    for _ in range(100):
        reports = c.get("/v1/reports", headers=service.as_("reviewer")).json()
        if reports:
            break
        time.sleep(0.1)
    (report,) = reports
    assert report["uploader_ref"] == f"alert {alert_id}: alice@laptop-17.example.org"
    assert report["hashes"]["sha256"] == SHA
    assert report["matches"][0]["orientation"] == "flip_horizontal"
    assert report["incident_time"] == "2026-03-01T10:00:01.000000Z"
    # a duplicate sets nothing off again
    c.post("/v1/alerts", json=alert(), headers=service.as_("agent"))
    time.sleep(0.6)
    assert len(c.get("/v1/reports", headers=service.as_("reviewer")).json()) == 1


def test_heartbeats_list_agents_and_flag_silent_ones(service: Service, bank: Bank) -> None:
    c, agent, reviewer = service.client, service.as_("agent"), service.as_("reviewer")
    for name in ("laptop-17", "desktop-2"):
        beat = {
            "agent": name,
            "host": f"{name}.example.org",
            "agent_version": "0.1.0",
            "bank_version": "origin-1:12",
            "interval_s": 60,
            "report": {"queued": 0, "state": "idle"},
        }
        assert c.post("/v1/agents/heartbeat", json=beat, headers=agent).status_code == 204
    with bank.db.transaction() as conn:
        conn.execute(
            "UPDATE agents SET last_heartbeat = '2020-01-01T00:00:00.000000Z'"
            " WHERE agent = 'desktop-2'"
        )
    listed = {a["agent"]: a for a in c.get("/v1/agents", headers=reviewer).json()}
    assert listed["laptop-17"]["silent"] is False
    assert listed["laptop-17"]["bank_version"] == "origin-1:12"
    assert listed["laptop-17"]["report"] == {"queued": 0, "state": "idle"}
    assert listed["desktop-2"]["silent"] is True
    assert listed["desktop-2"]["silent_for_s"] > 3600
    silent = c.get("/v1/agents", params={"silent": "true"}, headers=reviewer).json()
    assert [a["agent"] for a in silent] == ["desktop-2"]


@pytest.mark.parametrize(
    "changes",
    [
        {"matches": []},
        {"hashes": {"sha256": "not hex"}},
        {"hashes": {"ed2k": "0" * 32}},
        {"idempotency_key": "short"},
        {"path": "x" * 5000},
        {"matches": [{"entry": 1, "kind": "pdq", "distance": 999, "category": "A"}]},
        {"matches": [{"entry": 1, "kind": "pdq", "distance": 1, "category": "no such"}]},
        {"detected": "9999-12-31T23:59:59-14:00"},
        {"size": -1},
    ],
)
def test_a_malformed_alert_is_422_and_stores_nothing(
    service: Service, changes: dict[str, Any]
) -> None:
    c = service.client
    answer = c.post("/v1/alerts", json=alert(**changes), headers=service.as_("agent"))
    assert answer.status_code == 422, answer.text
    assert c.get("/v1/alerts", headers=service.as_("reviewer")).json() == []


def test_an_agent_can_send_a_real_files_hashes(service: Service) -> None:
    hashes = hash_bytes(png(5))
    body = alert(hashes={"md5": hashes.md5, "sha1": hashes.sha1, "sha256": hashes.sha256})
    assert c_post(service, body).status_code == 201


def c_post(service: Service, body: dict[str, Any]) -> Any:
    return service.client.post("/v1/alerts", json=body, headers=service.as_("agent"))


def test_a_decision_changed_behind_the_log_is_named_by_verify(service: Service, bank: Bank) -> None:
    c, reviewer = service.client, service.as_("reviewer")
    alert_id = c.post("/v1/alerts", json=alert(), headers=service.as_("agent")).json()["id"]
    c.post(f"/v1/alerts/{alert_id}/close", json={"note": "police informed"}, headers=reviewer)
    assert bank.verify().ok
    with bank.db.transaction() as conn:  # reopened behind the audit log's back
        conn.execute("UPDATE alerts SET status = 'open', note = NULL")
    assert bank.verify().problems == [
        "alerts changed outside hashwarden: its rows do not add up to what the audit log recorded"
    ]
