"""`serve --keep-recent`: the hashes of recent look-ups (never content) are kept for a window;
an entry added later that matches one fires the action rules with `"retro": true`, and
look-ups older than the window are forgotten."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.bank.base import Entry
from hashwarden.cli.service import parse_duration
from hashwarden.errors import UsageError
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.recent import RecentLookups
from hashwarden.signals.base import Signal

from .test_actions import FAST, Receiver, _wait
from .test_actions import receiver as receiver  # the fixture

OLD_MD5 = "1" * 32
PDQ = "a5" * 32
#: PDQ 2 bits from PDQ: a near duplicate.
NEAR = "a6" + "a5" * 31


def test_a_lookup_made_before_its_entry_was_added_fires_the_rules(
    bank: Bank,
    receiver: Receiver,
) -> None:
    now = [1000.0]
    settings = ServiceSettings(webhooks=FAST, keyless_role="admin", keep_recent_s=3600)
    app = create_app(settings, bank)
    state = app.state.hashwarden
    assert state.recent is not None
    state.recent.clock = lambda: now[0]
    with TestClient(app) as client:  # (its start-up starts the webhook worker)
        _fire_after_the_fact(client, state, now, receiver)


def _fire_after_the_fact(
    client: TestClient, state: Any, now: list[float], webhooks: Receiver
) -> None:
    made = client.post("/v1/actions/rules", json={"name": "all", "webhook_url": webhooks.url})
    assert made.status_code == 201, made.text
    assert client.post("/v1/banks", json={"name": "hotline"}).status_code == 201
    looked = client.post(
        "/v1/match/hashes", json={"signals": {"md5": OLD_MD5}, "uploader_ref": "old"}
    )
    assert looked.json()["matches"] == []
    now[0] += 3000
    looked = client.post(
        "/v1/match/hashes",
        json={"signals": {"pdq": PDQ}, "pdq_quality": 100, "uploader_ref": "acct-9"},
    )
    assert looked.json()["matches"] == []
    now[0] += 1000  # the first look-up is 4000 s old: past the window
    assert len(state.recent) == 1
    added = client.post(
        "/v1/banks/hotline/entries", json={"signals": {"md5": OLD_MD5}, "category": "A"}
    )
    assert added.status_code == 201, added.text
    added = client.post(
        "/v1/banks/hotline/entries", json={"signals": {"pdq": NEAR}, "category": "B"}
    )
    assert added.status_code == 201, added.text
    (call,) = webhooks.wait_for(1)
    body = json.loads(call.body)
    assert body["retro"] is True and body["uploader_ref"] == "acct-9"
    assert [(m["kind"], m["distance"], m["category"]) for m in body["matches"]] == [
        ("pdq", 2, "csam-b")
    ]
    # Actions are written in order: the forgotten look-up's would be there before this one.
    _wait(lambda: len(state.engine.deliveries()) >= 1)
    assert len(state.engine.deliveries()) == 1


def _entry(entry_id: int, kind: str, value: str) -> Entry:
    return Entry([Signal(kind, value)], category="csam-a", id=entry_id, version=entry_id)


def test_recent_lookups_match_new_entries_once_within_the_window() -> None:
    now = [0.0]
    recent = RecentLookups(60, clock=lambda: now[0], capacity=3)
    recent.add({"md5": OLD_MD5}, None, None, [])
    recent.add({"pdq": PDQ}, 100, {"rotate90": "0" * 64}, [])
    recent.add({"pdq": PDQ}, 10, None, [])  # low quality: exact only
    fired = recent.matches([_entry(1, "md5", OLD_MD5), _entry(2, "pdq", NEAR)], 31)
    assert [(lookup.signals.get("md5"), [m.entry for m in found]) for lookup, found in fired] == [
        (OLD_MD5, [1]),
        (None, [2]),
    ]
    assert recent.matches([_entry(1, "md5", OLD_MD5)], 31) == []  # reported once
    recent.add({"md5": "3" * 32}, None, None, [])  # over capacity: the oldest goes
    assert len(recent) == 3
    now[0] = 61
    assert len(recent) == 0


def test_keep_recent_is_checked() -> None:
    assert parse_duration("24h", "--keep-recent") == 86400
    assert parse_duration("90", "--keep-recent") == 90
    with pytest.raises(UsageError):
        parse_duration("soon", "--keep-recent")
    with pytest.raises(UsageError):
        ServiceSettings(keep_recent_s=0)
