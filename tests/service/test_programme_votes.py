"""A reviewed report draft becomes the programme's vote: a confirmation an up-vote, a rejection a
down-vote, queued in the bank with the decision and sent by the worker with retries, once.

The programme is NCMEC's hash sharing API, spoken by python-threatexchange's own client to a
local server on 127.0.0.1 (tests/exchange/ncmec_server.py); runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.index.matcher import Match
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.actions import ActionEngine, DeliverySettings, NewRule, WebhookWorker
from hashwarden.service.keys import create_key
from hashwarden.signals.base import Signal

from ..exchange.ncmec_server import PASSWORD, REASON_GUID, Entry, NCMECServer, ncmec_server

PDQ = "f" * 64
MD5 = "0123456789abcdef0123456789abcdef"
FAST = DeliverySettings(backoff_s=0.05, max_backoff_s=0.2, timeout_s=5, poll_s=0.2)


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch) -> Iterator[NCMECServer]:
    with ncmec_server(monkeypatch) as server:
        yield server


def _fetched(bank: Bank, server: NCMECServer) -> dict[str, int]:
    """Entries fetched from the NCMEC stand-in: {signal value: entry id}."""
    long_ago = int(time.time()) - 86400
    server.entries = [
        Entry("img-1", 42, "image", long_ago, {"pdq": PDQ}),
        Entry("vid-1", 7, "video", long_ago, {"md5": MD5}),
    ]
    exchanges = ProgrammeExchanges(bank)
    exchanges.add(
        "ncmec",
        "ncmec",
        config={"environment": "test_Industry"},
        credentials={"env": "HW_TEST_NCMEC"},
    )
    assert exchanges.fetch("ncmec").added == 2
    return {**bank.entries.lookup("pdq", [PDQ]), **bank.entries.lookup("md5", [MD5])}


def _wait(done: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done()


def test_a_reviewed_draft_sends_the_programmes_vote_with_retries_once(
    bank: Bank, ncmec: NCMECServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = _fetched(bank, ncmec)
    engine = ActionEngine(bank, settings=FAST)
    engine.add_rule(NewRule("report all", report=True))
    up = engine.on_match([Match(ids[PDQ], "pdq", PDQ, 0, "csam", None, False)], {"pdq": PDQ})
    down = engine.on_match([Match(ids[MD5], "md5", MD5, 0, "csam", None, False)], {"md5": MD5})
    assert up is not None and up.report and down is not None and down.report
    assert engine.votes() == []  # nothing is sent before a reviewer decides
    ncmec.feedback_statuses = [500]  # the first submission fails: retried after the backoff
    worker = WebhookWorker(engine)
    worker.start()
    try:
        engine.review(up.report, "confirmed", reviewer="alice")
        engine.review(down.report, "rejected", reviewer="bob")
        _wait(lambda: [v.status for v in engine.votes()] == ["delivered", "delivered"])
    finally:
        worker.stop()
        engine.close()
    sent = [(f.path, f.vote, f.reasons, f.authorised) for f in ncmec.feedback]
    up_path, down_path = "/v2/entries/42/img-1/PDQ/feedback", "/v2/entries/7/vid-1/MD5/feedback"
    assert sent[0][0] == up_path  # answered 500, then sent again after the backoff
    assert sorted(sent) == [
        (up_path, "affirmative", [], True),
        (up_path, "affirmative", [], True),
        (down_path, "negative", [REASON_GUID], True),
    ]
    votes = engine.votes()
    assert [(v.report, v.exchange, v.record, v.vote) for v in votes] == [
        (up.report, "ncmec", "42-img-1", "up"),
        (down.report, "ncmec", "7-vid-1", "down"),
    ]
    assert votes[0].attempts == 2 and votes[1].attempts == 1
    assert engine.deliver_due() == 0  # delivered once, never again
    audit = [(e.actor, e.action) for e in bank.audit.events()]
    assert audit.count(("exchange:ncmec", "exchange.vote")) == 2
    assert PASSWORD not in caplog.text
    assert "vote" in caplog.text  # the failed attempt was logged, without the credentials
    assert bank.verify().ok


def test_a_vote_the_programme_keeps_refusing_fails_after_its_attempts(
    bank: Bank, ncmec: NCMECServer
) -> None:
    ids = _fetched(bank, ncmec)
    engine = ActionEngine(bank, settings=FAST)
    engine.add_rule(NewRule("report all", report=True))
    fired = engine.on_match([Match(ids[PDQ], "pdq", PDQ, 0, "csam", None, False)], {"pdq": PDQ})
    assert fired is not None and fired.report
    ncmec.feedback_statuses = [500] * 20
    engine.settings = DeliverySettings(backoff_s=0.01, max_backoff_s=0.01, max_attempts=3)
    engine.review(fired.report, "confirmed", reviewer="alice")
    _wait(lambda: engine.deliver_due() >= 0 and engine.votes()[0].status == "failed")
    (vote,) = engine.votes()
    assert (vote.status, vote.attempts) == ("failed", 3)
    assert vote.last_error is not None and PASSWORD not in vote.last_error
    assert engine.deliver_due() == 0 and len(ncmec.feedback) == 3
    engine.close()


def test_entries_no_programme_brought_queue_no_vote(bank: Bank) -> None:
    own = bank.entries.add(NewEntry([Signal("pdq", PDQ)], "csam", source="hotline"))
    engine = ActionEngine(bank, settings=FAST)
    engine.add_rule(NewRule("report all", report=True))
    fired = engine.on_match([Match(own, "pdq", PDQ, 0, "csam", None, False)], {"pdq": PDQ})
    assert fired is not None and fired.report
    engine.review(fired.report, "confirmed", reviewer="alice")
    assert engine.votes() == [] and engine.deliver_due() == 0
    engine.close()


def test_a_confirmation_through_the_api_queues_the_vote(bank: Bank, ncmec: NCMECServer) -> None:
    ids = _fetched(bank, ncmec)
    reviewer = create_key(bank, "reviewer-1", "reviewer")
    app = create_app(ServiceSettings(webhooks=FAST), bank)
    with TestClient(app) as client:
        engine = app.state.hashwarden.engine
        engine.add_rule(NewRule("report all", report=True))
        fired = engine.on_match([Match(ids[MD5], "md5", MD5, 0, "csam", None, False)], {"md5": MD5})
        done = client.post(
            f"/v1/reports/{fired.report}/confirm",
            headers={"Authorization": f"Bearer {reviewer}"},
        )
        assert done.status_code == 200, done.text
        (arrived,) = ncmec.wait_for_feedback(1)
    assert (arrived.path, arrived.vote) == ("/v2/entries/7/vid-1/MD5/feedback", "affirmative")


def test_match_answers_name_the_programmes_behind_each_entry(bank: Bank, tmp_path: Path) -> None:
    """Provenance in match answers: each matched entry's exchanges, with the programme's id
    of the record and its tags (ids only for a key that may read the bank: a programme's id
    can be the banked hash itself)."""
    listing = tmp_path / "list.txt"
    listing.write_text(f"pdq {PDQ}\nvideo_md5 {MD5}\n")
    exchanges = ProgrammeExchanges(bank)
    exchanges.add("local", "file", config={"filename": str(listing)})
    exchanges.fetch("local")
    own = MD5.replace("0", "9")
    bank.entries.add(NewEntry([Signal("md5", own)], "csam", source="hotline"))
    keys = {role: create_key(bank, f"{role}-1", role) for role in ("matcher", "curator")}
    client = TestClient(create_app(ServiceSettings(), bank))

    def match(role: str, signals: dict[str, str]) -> list[dict[str, Any]]:
        answer = client.post(
            "/v1/match/hashes",
            json={"signals": signals},
            headers={"Authorization": f"Bearer {keys[role]}"},
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json()["matches"])

    (found,) = match("curator", {"md5": MD5})
    assert found["exchanges"] == [{"name": "local", "id": f"video_md5 {MD5}", "tags": []}]
    (found,) = match("matcher", {"md5": MD5})
    assert found["exchanges"] == [{"name": "local", "tags": []}]
    (found,) = match("curator", {"md5": own})
    assert found["exchanges"] == []
    lookup = client.get(
        "/m/lookup",
        params={"signal_type": "video_md5", "signal": MD5},
        headers={"Authorization": f"Bearer {keys['curator']}"},
    )
    assert lookup.status_code == 200, lookup.text
    (item,) = [i for items in lookup.json().values() for i in items]
    assert item["exchanges"] == [{"name": "local", "id": f"video_md5 {MD5}", "tags": []}]
