"""The match service core: upload and hash matching, limits, nothing stored."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.errors import UsageError
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key
from hashwarden.signals.base import Signal
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service, png


def test_upload_and_hash_match(bank: Bank, service: Service) -> None:
    image = png(1)
    known = hash_bytes(image)
    assert known.pdq is not None
    bank.entries.add(NewEntry([Signal("pdq", known.pdq)], category=parse_category("A")))
    client, auth = service.client, service.as_("matcher")

    up = client.post("/v1/match/upload", content=image, headers=auth)
    assert up.status_code == 200, up.text
    body = up.json()
    assert body["hashes"]["sha256"] == known.sha256
    assert [(m["distance"], m["banks"]) for m in body["matches"]] == [(0, ["default"])]

    miss = client.post("/v1/match/upload", content=png(2), headers=auth).json()
    assert miss["matches"] == []

    by_hash = client.post(
        "/v1/match/hashes", json={"signals": {"pdq": known.pdq}}, headers=auth
    ).json()
    assert by_hash["matches"][0]["category"] == bank.entries.by_id([1])[1].category


def test_multipart_upload_is_split_in_memory(bank: Bank, service: Service) -> None:
    image = png(11)
    sha256 = hash_bytes(image).sha256
    bank.entries.add(NewEntry([Signal("sha256", sha256)]))
    auth = service.as_("matcher")
    one = service.client.post(
        "/v1/match/upload", files={"photo": ("a.png", image, "image/png")}, headers=auth
    )
    assert one.status_code == 200, one.text
    assert one.json()["hashes"]["sha256"] == sha256 and len(one.json()["matches"]) == 1
    two = service.client.post(
        "/v1/match/upload",
        files=[("photo", ("a.png", image, "image/png")), ("photo", ("b.png", image, "image/png"))],
        headers=auth,
    )
    assert two.status_code == 422 and "exactly one file" in two.json()["detail"]


def test_entry_added_later_is_matched(bank: Bank, service: Service) -> None:
    image = png(3)
    auth = service.as_("matcher")
    assert (
        service.client.post("/v1/match/upload", content=image, headers=auth).json()["matches"] == []
    )
    pdq = hash_bytes(image).pdq
    assert pdq is not None
    bank.entries.add(NewEntry([Signal("pdq", pdq)]))
    again = service.client.post("/v1/match/upload", content=image, headers=auth).json()
    assert len(again["matches"]) == 1


def test_upload_over_limit_is_413_and_bad_hash_422(bank: Bank) -> None:
    token = create_key(bank, "m", "matcher")
    client = TestClient(create_app(ServiceSettings(max_upload_bytes=100), bank))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/match/upload", content=b"x" * 101, headers=auth).status_code == 413
    bad = client.post("/v1/match/hashes", json={"signals": {"pdq": "zz"}}, headers=auth)
    assert bad.status_code == 422 and "pdq" in bad.json()["detail"]
    unknown = client.post("/v1/match/hashes", json={"signals": {"nope": "00"}}, headers=auth)
    assert unknown.status_code == 422


def test_no_uploaded_byte_persisted(bank: Bank, service: Service, tmp_path: Path) -> None:
    marker = b"HWMARKER-7d1f0c"
    service.client.post("/v1/match/upload", content=marker * 1000, headers=service.as_("matcher"))
    service.client.post(
        "/v1/match/upload",
        files={"photo": ("m.bin", marker * 1000, "application/octet-stream")},
        headers=service.as_("matcher"),
    )
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), path


def test_serve_and_apikey_commands_are_registered(cli_runner: object) -> None:
    from typer.testing import CliRunner

    from hashwarden.cli import app

    assert isinstance(cli_runner, CliRunner)
    result = cli_runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "serve [OPTIONS] BANK" in result.output
    assert "--listen IP:PORT" in result.output and "--workers" in result.output
    assert cli_runner.invoke(app, ["apikey", "create", "--help"]).exit_code == 0


def test_request_log_errors_only_leaves_out_answered_look_ups(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    """`--request-log errors`: refused requests keep their line, answered look-ups have none."""
    key = create_key(bank, "matcher-key", "matcher")
    signal = "f" * 64
    for setting, lines in (("all", 2), ("errors", 1)):
        client = TestClient(create_app(ServiceSettings(request_log=setting), bank))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="hashwarden.service"):
            answered = client.get(
                "/m/raw_lookup",
                params={"signal_type": "pdq", "signal": signal},
                headers={"Authorization": f"Bearer {key}"},
            )
            refused = client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": signal})
        assert (answered.status_code, refused.status_code) == (200, 401)
        logged = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage()[:1] == "{"]
        assert [line["status"] for line in logged] == ([200, 401] if lines == 2 else [401])


def test_a_wrong_request_log_setting_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="HASHWARDEN_REQUEST_LOG"):
        ServiceSettings(request_log="some")


def test_requests_never_reach_fastapis_native_telemetry(service: Service) -> None:
    """FastAPI's OpenTelemetry spans would carry the client's address and the query string
    (the hash looked up) to whatever tracer a deployment configured: the service never
    consults it for a request, on the fast lane or the routes."""
    consulted: list[str] = []

    class Recorder:
        def enabled(self) -> bool:
            consulted.append("enabled")
            return True

        async def __call__(self, *args: object, **kwargs: object) -> None:
            consulted.append("span")

    app = service.client.app
    setattr(app, "_native_telemetry", Recorder())  # noqa: B010 (FastAPI's private attribute)
    answers = [
        service.client.get(
            "/m/raw_lookup",
            params={"signal_type": "pdq", "signal": "0" * 64},
            headers=service.as_("matcher"),
        ),
        service.client.get("/v1/status"),
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert consulted == []
