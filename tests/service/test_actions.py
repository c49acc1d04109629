"""Actions: signed webhooks with retries from a durable outbox, and the report queue.

Webhooks go to a receiver on 127.0.0.1 that the test starts and stops (loopback is refused by
default, so the settings here allow it explicitly); the engine's tests run on SQLite and on the
test set-up's PostgreSQL server. Names are resolved by an injected table, never by a real
resolver, and no test sends to any address but 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hashwarden.bank import Bank, create_bank, open_bank
from hashwarden.bank.base import NewEntry
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.index.matcher import Match
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.actions import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    UNREACHABLE,
    ActionEngine,
    DeliverySettings,
    NewRule,
    WebhookWorker,
    sign,
    verify_signature,
)
from hashwarden.service.actions.targets import REFUSED, TargetPolicy
from hashwarden.service.banks import BankMatch
from hashwarden.service.keys import create_key
from hashwarden.service.routes.actions import actions_router
from hashwarden.signals.base import Signal
from hashwarden.signals.hashing import hash_bytes
from hashwarden.synthetic import png_bytes, synthetic_photo

from ..conftest import BankLocations

SECRET = "s3cret-for-tests-0123456789"
PDQ = "f" * 64
#: The tests' receivers listen on loopback, which only an allow-list opens.
LOOPBACK = TargetPolicy.parse("127.0.0.1")
FAST = DeliverySettings(
    backoff_s=0.05, max_backoff_s=0.2, timeout_s=5, poll_s=0.2, trust_env=False, targets=LOOPBACK
)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str = ""


class Receiver:
    """A webhook receiver on loopback answering with scripted statuses (then 200); a 3xx
    carries `Location: redirect_to`."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.redirect_to = ""
        self.calls: list[Received] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer.arrived:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.calls.append(
                        Received(dict(self.headers.items()), body, time.monotonic(), self.path)
                    )
                    outer.arrived.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", outer.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)
        assert len(self.calls) >= count, f"{len(self.calls)} of {count} webhook calls arrived"
        return self.calls


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)


@pytest.fixture
def location(bank_locations: BankLocations) -> str:
    return bank_locations.new_location()


@pytest.fixture
def engine(any_bank: Bank) -> Iterator[ActionEngine]:
    e = ActionEngine(any_bank, settings=FAST)
    yield e
    e.close()


def _match(entry: int = 1, category: str = "csam-a", distance: int = 0) -> Match:
    return Match(entry, "pdq", PDQ, distance, category, None, False)


def _wait(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_signature_scheme() -> None:
    body = b'{"a":1}'
    now = 1_700_000_000
    header = sign(SECRET, str(now), body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, str(now), body, header, now=now + 10)
    assert not verify_signature("another-secret-value", str(now), body, header, now=now)
    assert not verify_signature(SECRET, str(now), body + b" ", header, now=now)
    assert not verify_signature(SECRET, str(now + 1), body, header, now=now)
    assert not verify_signature(SECRET, str(now), body, header, now=now + 301)
    assert not verify_signature(SECRET, "soon", body, header, now=now)


def test_webhook_is_signed_and_carries_the_match(engine: ActionEngine, receiver: Receiver) -> None:
    rule, secret = engine.add_rule(
        NewRule("platform", webhook_url=receiver.url, webhook_secret=SECRET)
    )
    assert secret == SECRET and rule.webhook_url == receiver.url
    hashes = {"pdq": PDQ, "sha256": "a" * 64}
    fired = engine.on_match([_match()], hashes, uploader_ref="user-42")
    assert fired is not None and fired.report is None and len(fired.deliveries) == 1
    assert engine.deliver_due() == 1
    (call,) = receiver.wait_for(1)
    assert verify_signature(
        SECRET, call.headers[TIMESTAMP_HEADER], call.body, call.headers[SIGNATURE_HEADER]
    )
    payload = json.loads(call.body)
    assert payload["hashes"] == hashes and payload["uploader_ref"] == "user-42"
    assert payload["rule"] == {"id": rule.id, "name": "platform"}
    assert [(m["entry"], m["distance"], m["banks"]) for m in payload["matches"]] == [
        (1, 0, ["default"])
    ]
    (delivery,) = engine.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, None)


def test_failing_receiver_is_retried_with_backoff(engine: ActionEngine, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    engine.add_rule(NewRule("flaky", webhook_url=receiver.url, webhook_secret=SECRET))
    worker = WebhookWorker(engine)
    worker.start()
    try:
        engine.on_match([_match()], {"pdq": PDQ})
        calls = receiver.wait_for(3)
        _wait(lambda: engine.deliveries()[0].status == "delivered")
    finally:
        worker.stop()
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # 0.05 s, then doubled
    assert len({c.headers["X-Hashwarden-Delivery"] for c in calls}) == 1
    (delivery,) = engine.deliveries()
    assert delivery.attempts == 3 and delivery.last_error is None


def test_failures_are_recorded_not_lost(engine: ActionEngine, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    engine.settings = DeliverySettings(
        max_attempts=2, backoff_s=0.01, trust_env=False, targets=LOOPBACK
    )
    engine.add_rule(NewRule("down", webhook_url=receiver.url, webhook_secret=SECRET))
    engine.add_rule(NewRule("nobody", webhook_url=closed, webhook_secret=SECRET))
    engine.on_match([_match()], {"pdq": PDQ})
    _wait(lambda: engine.deliver_due() == 0 and not engine.deliveries(status="pending"))
    failed = {d.url: d for d in engine.deliveries(status="failed")}
    assert failed[receiver.url].attempts == 2 and failed[receiver.url].last_error == "HTTP 500"
    # a closed port reads as any other failure to connect: the outbox is no port scanner
    assert failed[closed].attempts == 2 and failed[closed].last_error == UNREACHABLE


def test_outbox_survives_a_restart(location: str, receiver: Receiver) -> None:
    with create_bank(location) as store:
        first = ActionEngine(store, settings=FAST)
        first.add_rule(NewRule("hook", webhook_url=receiver.url, webhook_secret=SECRET))
        first.on_match([_match()], {"pdq": PDQ})
        first.close()  # stopped before its worker sent anything
    assert receiver.calls == []
    with open_bank(location) as store:
        second = ActionEngine(store, settings=FAST)
        assert second.deliver_due() == 1
        second.close()
    assert len(receiver.wait_for(1)) == 1


def test_report_queue_confirm_and_reject(engine: ActionEngine) -> None:
    rule, secret = engine.add_rule(
        NewRule("severe", categories=["A", "csam-b"], max_distance=10, report=True)
    )
    assert secret is None and rule.categories == ["csam-a", "csam-b"]
    hashes = {"pdq": PDQ, "md5": "0" * 32}
    first = engine.on_match(
        [_match(1, "csam-a", 4), _match(2, "csam-c", 0), _match(3, "csam-b", 20)],
        hashes,
        uploader_ref="acct:99",
    )
    second = engine.on_match([_match(4, "csam-b", 0)], hashes)
    unselected = engine.on_match([_match(5, "csam-c", 0)], hashes)
    assert unselected is not None and (unselected.report, unselected.deliveries) == (None, [])
    assert engine.on_match([], hashes) is None
    assert first is not None and second is not None and first.report and second.report
    drafts = engine.reports(status="pending")
    assert [d.id for d in drafts] == [first.report, second.report]
    draft = engine.report(first.report)
    assert draft.hashes == hashes and draft.uploader_ref == "acct:99"
    assert draft.category == "csam-a" and draft.rules == [rule.id]
    assert [(m["entry"], m["distance"]) for m in draft.matches] == [(1, 4)]

    confirmed = engine.review(first.report, "confirmed", reviewer="alice", note="sent")
    assert (confirmed.status, confirmed.reviewer, confirmed.review_note) == (
        "confirmed",
        "alice",
        "sent",
    )
    assert confirmed.reviewed is not None
    with pytest.raises(ConflictError):
        engine.review(first.report, "rejected", reviewer="bob")
    assert engine.review(second.report, "rejected", reviewer="bob").status == "rejected"
    with pytest.raises(NotFoundError):
        engine.review(999, "confirmed", reviewer="bob")
    assert engine.reports(status="pending") == []
    assert [r.id for r in engine.reports(status="confirmed")] == [first.report]
    audit = [(e.actor, e.action) for e in engine.bank.audit.events()]
    assert ("alice", "report.confirm") in audit and ("bob", "report.reject") in audit
    assert engine.bank.verify().ok


def test_rules_select_by_bank_category_and_distance(engine: ActionEngine) -> None:
    engine.add_rule(NewRule("other-bank", bank="elsewhere", report=True))
    engine.add_rule(NewRule("close", max_distance=2, report=True))
    assert engine.on_match([_match(distance=3)], {"pdq": PDQ}) is not None
    assert engine.reports() == []
    fired = engine.on_match([_match(distance=2)], {"pdq": PDQ})
    assert fired is not None and fired.report is not None
    assert engine.report(fired.report).rules == [2]


def test_rule_validation_and_removal(engine: ActionEngine, receiver: Receiver) -> None:
    with pytest.raises(UsageError, match="action"):
        engine.add_rule(NewRule("idle"))
    with pytest.raises(UsageError, match="http"):
        engine.add_rule(NewRule("bad", webhook_url="ftp://example.invalid/"))
    with pytest.raises(UsageError, match="category"):
        engine.add_rule(NewRule("bad", categories=["nonsense"], report=True))
    with pytest.raises(UsageError, match="16"):
        engine.add_rule(NewRule("bad", webhook_url=receiver.url, webhook_secret="short"))
    rule, secret = engine.add_rule(NewRule("hook", webhook_url=receiver.url))
    assert secret is not None and len(secret) == 64  # generated
    with pytest.raises(ConflictError):
        engine.add_rule(NewRule("hook", report=True))
    engine.on_match([_match()], {"pdq": PDQ})
    assert engine.remove_rule(rule.id).name == "hook"
    with pytest.raises(NotFoundError):
        engine.rule(rule.id)
    (delivery,) = engine.deliveries()
    assert delivery.status == "failed" and delivery.last_error == "rule removed before delivery"
    assert engine.deliver_due() == 0 and receiver.calls == []


# -- HTTP --------------------------------------------------------------------------------------
@dataclass
class Caller:
    name: str


def _api(bank: Bank, roles: list[str]) -> TestClient:
    def require(role: str) -> Callable[[], Caller]:
        roles.append(role)
        return lambda: Caller(f"{role}-key")

    app = FastAPI()
    app.include_router(actions_router(ActionEngine(bank, settings=FAST), require))
    return TestClient(app)


def test_api_rules_reports_and_errors(bank: Bank) -> None:
    roles: list[str] = []
    client = _api(bank, roles)
    assert set(roles) == {"admin", "reviewer"}
    created = client.post(
        "/v1/actions/rules", json={"name": "r", "categories": ["B"], "report": True}
    )
    assert created.status_code == 201
    rule = created.json()["rule"]
    assert rule["categories"] == ["csam-b"] and created.json()["webhook_secret"] is None
    assert "webhook_secret" not in client.get("/v1/actions/rules").json()[0]
    for bad in (
        {"name": "x"},
        {"name": "x", "report": True, "categories": ["nonsense"]},
        {"name": "x", "webhook_url": "not a url"},
        {"name": "x", "report": True, "max_distance": 300},
        {"name": "", "report": True},
    ):
        assert client.post("/v1/actions/rules", json=bad).status_code == 422, bad
    assert client.post("/v1/actions/rules", json={"name": "r", "report": True}).status_code == 409
    assert client.get("/v1/actions/rules/99").status_code == 404
    assert client.delete("/v1/actions/rules/99").status_code == 404
    assert client.get("/v1/reports/abc").status_code == 422
    assert client.get("/v1/reports/99").status_code == 404
    assert client.get("/v1/reports?status=lost").status_code == 422

    engine = ActionEngine(bank, settings=FAST)
    fired = engine.on_match([_match(7, "csam-b", 1)], {"pdq": PDQ}, uploader_ref="u1")
    assert fired is not None and fired.report is not None
    listed = client.get("/v1/reports", params={"status": "pending"}).json()
    assert [r["uploader_ref"] for r in listed] == ["u1"]
    done = client.post(f"/v1/reports/{fired.report}/confirm", json={"note": "ok"})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["reviewer"]) == ("confirmed", "reviewer-key")
    assert client.post(f"/v1/reports/{fired.report}/reject").status_code == 409
    assert client.post("/v1/reports/99/reject").status_code == 404
    assert client.get("/v1/actions/deliveries").json() == []
    assert client.delete(f"/v1/actions/rules/{rule['id']}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/reports/{report_id}/confirm" in paths and "/v1/actions/rules" in paths


def test_api_review_without_a_known_caller_needs_a_name(bank: Bank) -> None:
    app = FastAPI()
    engine = ActionEngine(bank, settings=FAST)
    app.include_router(actions_router(engine, lambda role: lambda: None))
    client = TestClient(app)
    engine.add_rule(NewRule("r", report=True))
    fired = engine.on_match([_match()], {"pdq": PDQ})
    assert fired is not None and fired.report is not None
    assert client.post(f"/v1/reports/{fired.report}/confirm").status_code == 422
    named = client.post(f"/v1/reports/{fired.report}/reject", json={"reviewer": "carol"})
    assert named.json()["reviewer"] == "carol"


def test_upload_sets_off_webhook_and_report_end_to_end(
    bank: Bank, receiver: Receiver, tmp_path: Path
) -> None:
    """A real server on loopback: a benign generated image matching a bank entry is uploaded;
    the receiver gets a verifiable webhook and a report draft waits for a reviewer."""
    image = png_bytes(synthetic_photo(11, 320, 240))
    known = hash_bytes(image)
    assert known.pdq is not None
    bank.entries.add(NewEntry([Signal("pdq", known.pdq)], category="csam-c"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(ServiceSettings(webhooks=FAST, keyless_role="admin"), bank)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            made = http.post(
                "/v1/actions/rules",
                json={"name": "all", "webhook_url": receiver.url, "report": True},
            ).json()
            secret = made["webhook_secret"]
            up = http.post(
                "/v1/match/upload",
                content=image,
                params={"uploader_ref": "acct-7", "incident_time": "2026-11-25T06:00:00Z"},
            )
            assert up.status_code == 200 and len(up.json()["matches"]) == 1
            (call,) = receiver.wait_for(1)
            assert verify_signature(
                secret, call.headers[TIMESTAMP_HEADER], call.body, call.headers[SIGNATURE_HEADER]
            )
            payload = json.loads(call.body)
            assert payload["hashes"]["sha256"] == known.sha256
            assert payload["uploader_ref"] == "acct-7"
            (draft,) = http.get("/v1/reports").json()
            assert draft["id"] == payload["report"] and draft["category"] == "csam-c"
            assert draft["incident_time"] == "2026-11-25T06:00:00.000000Z"
            assert draft["hashes"]["pdq"] == known.pdq
            assert http.post(
                f"/v1/reports/{draft['id']}/confirm", json={"reviewer": "dana"}
            ).json()["status"] == ("confirmed")
            miss = http.post("/v1/match/upload", content=png_bytes(synthetic_photo(12, 320, 240)))
            assert miss.json()["matches"] == [] and len(http.get("/v1/reports").json()) == 1
            bad = http.post("/v1/match/upload", content=image, params={"incident_time": "soon"})
            assert bad.status_code == 422
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
    marker = image[200:232]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), path


def test_delivery_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWARDEN_WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("HASHWARDEN_WEBHOOK_BACKOFF_S", "0.5")
    settings = ServiceSettings.from_env().webhooks
    assert (settings.max_attempts, settings.backoff_s) == (3, 0.5)
    assert [settings.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert DeliverySettings(max_backoff_s=60).backoff(30) == 60


def test_hash_route_passes_report_fields(bank: Bank) -> None:
    bank.entries.add(NewEntry([Signal("md5", "1" * 32)], category="csam-b"))
    client = TestClient(create_app(ServiceSettings(webhooks=FAST, keyless_role="admin"), bank))
    assert client.post("/v1/actions/rules", json={"name": "r", "report": True}).status_code == 201
    body = {
        "signals": {"md5": "1" * 32},
        "uploader_ref": "u-9",
        "incident_time": "2026-01-02T03:04:05+01:00",
    }
    assert len(client.post("/v1/match/hashes", json=body).json()["matches"]) == 1
    (draft,) = client.get("/v1/reports").json()
    assert (draft["uploader_ref"], draft["incident_time"]) == ("u-9", "2026-01-02T02:04:05.000000Z")
    assert draft["hashes"] == {"md5": "1" * 32} and draft["category"] == "csam-b"
    too_long = {"signals": {"md5": "1" * 32}, "uploader_ref": "x" * 257}
    assert client.post("/v1/match/hashes", json=too_long).status_code == 422


def test_a_claimed_delivery_is_leased_to_one_worker(location: str, receiver: Receiver) -> None:
    with create_bank(location) as store:
        engine = ActionEngine(store, settings=FAST)
        engine.add_rule(NewRule("hook", webhook_url=receiver.url, webhook_secret=SECRET))
        engine.on_match([_match()], {"pdq": PDQ})
        claimed = engine.outbox.claim()
        assert claimed is not None and claimed[-1] == 1
        assert engine.outbox.claim() is None  # leased: another worker finds nothing due
        due = engine.next_due()
        assert due is not None and due > 30
        engine.close()


def test_rules_added_elsewhere_apply_after_the_cache_time(bank: Bank) -> None:
    here = ActionEngine(
        bank, settings=DeliverySettings(rules_ttl_s=0.05, trust_env=False, targets=LOOPBACK)
    )
    elsewhere = ActionEngine(bank, settings=FAST)
    assert here.on_match([_match()], {"pdq": PDQ}) is not None  # reads (no) rules
    elsewhere.add_rule(NewRule("late", report=True))
    time.sleep(0.06)
    fired = here.on_match([_match()], {"pdq": PDQ})
    assert fired is not None and fired.report is not None


def test_rules_select_named_banks(engine: ActionEngine) -> None:
    engine.add_rule(NewRule("partner-list", bank="partner", report=True))
    assert engine.on_match([BankMatch(_match(1), ["default", "other"])], {"pdq": PDQ}) is not None
    assert engine.reports() == []
    fired = engine.on_match([BankMatch(_match(2), ["other", "partner"])], {"pdq": PDQ})
    assert fired is not None and fired.report is not None
    (found,) = engine.report(fired.report).matches
    assert (found["entry"], found["banks"]) == (2, ["other", "partner"])


def test_roles_guard_the_action_routes(bank: Bank) -> None:
    keys = {role: create_key(bank, f"{role}-1", role) for role in ("matcher", "reviewer", "admin")}
    client = TestClient(create_app(ServiceSettings(webhooks=FAST), bank))

    def as_(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    rule = {"name": "r", "report": True}
    assert client.post("/v1/actions/rules", json=rule).status_code == 401
    assert client.post("/v1/actions/rules", json=rule, headers=as_("reviewer")).status_code == 403
    assert client.post("/v1/actions/rules", json=rule, headers=as_("admin")).status_code == 201
    assert client.get("/v1/actions/deliveries", headers=as_("reviewer")).status_code == 403
    assert client.get("/v1/reports", headers=as_("matcher")).status_code == 403
    bank.entries.add(NewEntry([Signal("md5", "2" * 32)], category="csam-a"))
    hashes = {"signals": {"md5": "2" * 32}, "uploader_ref": "acct-1"}
    assert client.post("/v1/match/hashes", json=hashes, headers=as_("matcher")).status_code == 200
    (draft,) = client.get("/v1/reports", headers=as_("reviewer")).json()
    assert draft["uploader_ref"] == "acct-1"
    confirm = f"/v1/reports/{draft['id']}/confirm"
    assert client.post(confirm, headers=as_("matcher")).status_code == 403
    decided = client.post(confirm, json={"reviewer": "someone else"}, headers=as_("reviewer"))
    assert decided.json()["reviewer"] == "reviewer-1"  # the key's name, not a claimed one
    audit = [(e.actor, e.action) for e in bank.audit.events()]
    assert ("admin-1", "action.rule.add") in audit and ("reviewer-1", "report.confirm") in audit


def test_disable_a_rule_and_retry_a_failed_delivery(bank: Bank, receiver: Receiver) -> None:
    receiver.statuses = [500]
    engine = ActionEngine(
        bank, settings=DeliverySettings(max_attempts=1, trust_env=False, targets=LOOPBACK)
    )
    app = FastAPI()
    app.include_router(actions_router(engine, lambda role: lambda: "ops"))
    client = TestClient(app)
    made = client.post("/v1/actions/rules", json={"name": "h", "webhook_url": receiver.url})
    rule_id = made.json()["rule"]["id"]
    off = client.patch(f"/v1/actions/rules/{rule_id}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    fired = engine.on_match([_match()], {"pdq": PDQ})
    assert fired is not None and fired.deliveries == []  # a disabled rule sets off nothing
    client.patch(f"/v1/actions/rules/{rule_id}", json={"enabled": True})
    engine.on_match([_match()], {"pdq": PDQ})
    assert engine.deliver_due() == 1
    (failed,) = client.get("/v1/actions/deliveries", params={"status": "failed"}).json()
    assert client.post(f"/v1/actions/deliveries/{failed['id']}/retry").json()["status"] == "pending"
    assert client.post(f"/v1/actions/deliveries/{failed['id']}/retry").status_code == 409
    assert client.post("/v1/actions/deliveries/99/retry").status_code == 404
    assert engine.deliver_due() == 1
    assert engine.deliveries()[0].status == "delivered" and len(receiver.calls) == 2
    assert client.patch("/v1/actions/rules/99", json={"enabled": True}).status_code == 404
    actions = [(e.actor, e.action) for e in bank.audit.events()]
    assert ("ops", "action.rule.disable") in actions and ("ops", "action.delivery.retry") in actions


def test_a_delivery_left_mid_send_at_its_last_attempt_fails(bank: Bank) -> None:
    engine = ActionEngine(
        bank, settings=DeliverySettings(max_attempts=1, trust_env=False, targets=LOOPBACK)
    )
    engine.add_rule(NewRule("h", webhook_url="http://127.0.0.1:9/", webhook_secret=SECRET))
    engine.on_match([_match()], {"pdq": PDQ})
    # A lease that has already run out when taken (time limit + 30 s < 0).
    engine.settings = DeliverySettings(
        max_attempts=1, timeout_s=-30.5, trust_env=False, targets=LOOPBACK
    )
    assert engine.outbox.claim() is not None  # the worker "dies" here, before any answer
    assert engine.outbox.claim() is None  # its lease ran out: given up, not sent again
    (delivery,) = engine.deliveries()
    assert delivery.status == "failed" and "worker stopped" in (delivery.last_error or "")


# -- where webhooks may go, and what is shown of their URLs ------------------------------------
def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Resolver:
    """A name table standing in for DNS: no real look-up happens in these tests."""

    def __init__(self, **table: list[str]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.table[host.replace(".", "_").replace("-", "_")]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://[::1]:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/",
    ],
)
def test_a_rule_to_an_internal_address_is_refused_end_to_end(bank: Bank, url: str) -> None:
    """The default service (no allow-list): the API answers 422 naming the refusal, stores no
    rule, and sends nothing."""
    token = create_key(bank, "ops", "admin")
    client = TestClient(create_app(ServiceSettings(), bank))
    auth = {"Authorization": f"Bearer {token}"}
    body = {"name": "probe", "webhook_url": url.format(port=_loopback_port())}
    refused = client.post("/v1/actions/rules", json=body, headers=auth)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert REFUSED in detail and "HASHWARDEN_WEBHOOK_ALLOW" in detail
    assert client.get("/v1/actions/rules", headers=auth).json() == []


def test_a_name_resolving_to_an_internal_address_is_refused_at_send_time(
    bank: Bank, receiver: Receiver
) -> None:
    """A name passes the rule check; its address, looked up when sending, is loopback and not
    allowed: the delivery fails at once with a plain refusal and nothing is sent."""
    resolver = Resolver(hooks_test=["127.0.0.1"])
    engine = ActionEngine(
        bank, settings=DeliverySettings(trust_env=False, max_attempts=8), resolver=resolver
    )
    port = receiver.server.server_address[1]
    engine.add_rule(NewRule("sneaky", webhook_url=f"http://hooks.test:{port}/hook"))
    engine.on_match([_match()], {"pdq": PDQ})
    assert engine.deliver_due() == 1
    (delivery,) = engine.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, REFUSED)
    assert resolver.asked == ["hooks.test"] and receiver.calls == []
    engine.close()


def test_the_send_connects_to_the_address_it_checked(bank: Bank, receiver: Receiver) -> None:
    """One look-up a connection: the name's later answers (an address that is not allowed)
    are never asked for; the receiver sees the name in the Host header."""
    resolver = Resolver(hooks_test=["127.0.0.1"])
    engine = ActionEngine(bank, settings=FAST, resolver=resolver)
    port = receiver.server.server_address[1]
    engine.add_rule(NewRule("named", webhook_url=f"http://hooks.test:{port}/hook"))
    engine.on_match([_match()], {"pdq": PDQ})
    resolver.table["hooks_test"] = ["10.0.0.1"]  # a rebinding answer, if it were asked again
    assert resolver.asked == []
    resolver.table["hooks_test"] = ["127.0.0.1"]
    assert engine.deliver_due() == 1
    (call,) = receiver.wait_for(1)
    assert call.headers["Host"] == f"hooks.test:{port}"
    assert resolver.asked == ["hooks.test"]
    assert engine.deliveries()[0].status == "delivered"
    engine.close()


def test_redirects_are_not_followed(engine: ActionEngine, receiver: Receiver) -> None:
    second = Receiver()
    second.thread.start()
    try:
        receiver.statuses = [302]
        receiver.redirect_to = second.url
        engine.settings = DeliverySettings(max_attempts=1, trust_env=False, targets=LOOPBACK)
        engine.add_rule(NewRule("moved", webhook_url=receiver.url, webhook_secret=SECRET))
        engine.on_match([_match()], {"pdq": PDQ})
        assert engine.deliver_due() == 1
        (delivery,) = engine.deliveries()
        assert (delivery.status, delivery.last_error) == ("failed", "HTTP 302")
        assert len(receiver.calls) == 1 and second.calls == []
    finally:
        second.server.shutdown()
        second.server.server_close()
        second.thread.join(timeout=5)


def test_turning_a_rule_on_checks_its_url_again(bank: Bank) -> None:
    allowed = ActionEngine(bank, settings=FAST)
    rule, _ = allowed.add_rule(NewRule("h", webhook_url="http://127.0.0.1:9/", enabled=False))
    strict = ActionEngine(bank, settings=DeliverySettings(trust_env=False))
    with pytest.raises(UsageError, match=REFUSED):
        strict.set_enabled(rule.id, True)
    assert strict.rule(rule.id).enabled is False
    assert allowed.set_enabled(rule.id, True).enabled is True


def test_webhook_allow_list_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWARDEN_WEBHOOK_ALLOW", "10.0.0.0/8,webhooks.internal")
    targets = ServiceSettings.from_env().webhooks.targets
    assert targets == TargetPolicy.parse("webhooks.internal, 10.0.0.0/8")
    monkeypatch.delenv("HASHWARDEN_WEBHOOK_ALLOW")
    assert ServiceSettings.from_env().webhooks.targets == TargetPolicy()


def test_credentials_in_a_webhook_url_are_never_shown(
    bank: Bank, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL with a user, a password and a token: the receiver gets them (the send is where the
    URL is used), and no API answer, audit event or log line shows them."""
    password, token = "hunter2-Passw0rd", "tok-0123456789abcdef"
    port = receiver.server.server_address[1]
    url = f"http://hook-user:{password}@127.0.0.1:{port}/hook?token={token}&team=7"
    shown = f"http://***@127.0.0.1:{port}/hook?token=***&team=7"
    receiver.statuses = [500]
    webhooks = DeliverySettings(max_attempts=2, backoff_s=0.01, trust_env=False, targets=LOOPBACK)
    client = TestClient(create_app(ServiceSettings(keyless_role="admin", webhooks=webhooks), bank))
    bank.entries.add(NewEntry([Signal("md5", "3" * 32)], category="csam-a"))
    answers: dict[str, str] = {}
    with caplog.at_level(logging.DEBUG):
        made = client.post("/v1/actions/rules", json={"name": "creds", "webhook_url": url})
        assert made.status_code == 201, made.text
        assert made.json()["rule"]["webhook_url"] == shown
        rule_id = made.json()["rule"]["id"]
        answers["create"] = made.text
        assert client.post("/v1/match/hashes", json={"signals": {"md5": "3" * 32}}).is_success
        engine = ActionEngine(bank, settings=webhooks)
        _wait(lambda: engine.deliver_due() == 0 and not engine.deliveries(status="pending"))
        engine.close()
        for path in ("/v1/actions/rules", f"/v1/actions/rules/{rule_id}", "/v1/actions/deliveries"):
            answers[path] = client.get(path).text
        disabled = client.patch(f"/v1/actions/rules/{rule_id}", json={"enabled": False})
        answers["patch"] = disabled.text
        bad = {"name": "bad", "webhook_url": f"ftp://u:{password}@x/?token={token}"}
        refused = client.post("/v1/actions/rules", json=bad)
        assert refused.status_code == 422
        answers["refused"] = refused.text
        answers["delete"] = client.delete(f"/v1/actions/rules/{rule_id}").text
    calls = receiver.wait_for(2)
    assert token in calls[-1].path  # the real URL is what was sent to
    assert calls[-1].headers["Authorization"].startswith("Basic ")
    (delivery,) = json.loads(answers["/v1/actions/deliveries"])
    assert (delivery["status"], delivery["attempts"], delivery["url"]) == ("delivered", 2, shown)
    logged = [record.getMessage() for record in caplog.records]
    assert any("webhook delivery" in line for line in logged)  # the 500 was logged
    events = list(bank.audit.events())
    assert [e.detail["webhook_url"] for e in events if e.action == "action.rule.add"] == [shown]
    for secret in (password, token):
        for text in [*answers.values(), *logged, *(json.dumps(e.detail) for e in events)]:
            assert secret not in text, text


def test_through_a_proxy_names_go_to_the_proxy_and_internal_literals_stay_refused(
    bank: Bank, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set (the receiver on loopback plays the proxy), a named target is sent
    through it without a local look-up (the proxy resolves names), and an address literal is
    still checked: an internal one is refused before anything is sent."""
    proxy = receiver.url.removesuffix("/hook")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    resolver = Resolver()
    engine = ActionEngine(bank, settings=DeliverySettings(max_attempts=1), resolver=resolver)
    engine.add_rule(NewRule("named", webhook_url="http://hooks.example.test/hook"))
    engine.on_match([_match()], {"pdq": PDQ})
    assert engine.deliver_due() == 1
    (call,) = receiver.wait_for(1)
    assert call.path == "http://hooks.example.test/hook" and resolver.asked == []
    with pytest.raises(UsageError, match=REFUSED):
        engine.add_rule(NewRule("inside", webhook_url="http://169.254.169.254/latest/"))
    assert engine.deliveries()[0].status == "delivered"
    engine.close()


def test_a_queued_delivery_to_a_literal_no_longer_allowed_is_refused(
    bank: Bank, receiver: Receiver
) -> None:
    """Rules and deliveries written under another allow-list (or by an older version) are
    checked again when sent."""
    allowed = ActionEngine(bank, settings=FAST)
    allowed.add_rule(NewRule("old", webhook_url=receiver.url, webhook_secret=SECRET))
    allowed.on_match([_match()], {"pdq": PDQ})
    strict = ActionEngine(bank, settings=DeliverySettings(trust_env=False))
    assert strict.deliver_due() == 1
    (delivery,) = strict.deliveries()
    assert (delivery.status, delivery.last_error) == ("failed", REFUSED)
    assert receiver.calls == []
    allowed.close()
    strict.close()
