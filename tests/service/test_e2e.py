"""End to end: `hashwarden serve` with two worker processes on loopback, driven over HTTP the
way a platform would: keys from the CLI, a bank, entries by hash and by file, matches, roles."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hashwarden.bank import Bank, open_bank
from hashwarden.service.actions import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from hashwarden.signals.hashing import hash_bytes

from .conftest import png
from .test_actions import Receiver, receiver

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

__all__ = ["receiver"]  # a fixture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "hashwarden", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_service_end_to_end(bank: Bank, tmp_path: Path, receiver: Receiver) -> None:
    location = str(bank.location)
    bank.close()
    keys = {
        role: _cli("apikey", "create", "--bank", location, "--role", role, "--name", f"{role}-1")
        .strip()
        .splitlines()[-1]
        for role in ("admin", "curator", "matcher")
    }
    assert all(k.startswith("hw_") for k in keys.values())
    spool = tmp_path / "spool"  # where anything spooled to a temporary file would land
    spool.mkdir()
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "hashwarden", "serve", "--bank", location),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        ],
        # the receiver is on loopback, which webhooks may reach only when allowed
        env={**os.environ, "TMPDIR": str(spool), "HASHWARDEN_WEBHOOK_ALLOW": "127.0.0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/status").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert client.get("/status").text == "I-AM-ALIVE"
            assert client.post("/v1/banks", json={"name": "known"}).status_code == 401
            made = client.post("/v1/banks", json={"name": "known"}, headers=auth("admin"))
            assert made.status_code == 201, made.text
            rule = client.post(
                "/v1/actions/rules",
                json={"name": "notify", "bank": "known", "webhook_url": receiver.url},
                headers=auth("admin"),
            )
            assert rule.status_code == 201, rule.text
            secret = rule.json()["webhook_secret"]

            by_file, by_hash, never = png(21), png(22), png(23)
            up = client.post(
                "/v1/banks/known/entries/upload?category=A",
                files={"photo": ("f.png", by_file, "image/png")},
                headers=auth("curator"),
            )
            assert up.status_code == 201, up.text
            pdq = hash_bytes(by_hash).pdq
            added = client.post(
                "/v1/banks/known/entries",
                json={"signals": {"pdq": pdq}, "category": "B"},
                headers=auth("curator"),
            )
            assert added.status_code == 201, added.text

            # every request may land on either worker: all must see both entries at once
            for _ in range(6):
                for image in (by_file, by_hash):
                    got = client.post(
                        "/v1/match/upload", content=image, headers=auth("matcher")
                    ).json()
                    assert [m["banks"] for m in got["matches"]] == [["known"]], got
                miss = client.post("/v1/match/upload", content=never, headers=auth("matcher"))
                assert miss.json()["matches"] == []

            # every match was announced to the platform's receiver, signed
            calls = receiver.wait_for(12, timeout=30)
            for call in calls:
                timestamp = call.headers[TIMESTAMP_HEADER]
                signature = call.headers[SIGNATURE_HEADER]
                assert verify_signature(secret, timestamp, call.body, signature)
            assert json.loads(calls[0].body)["hashes"]["sha256"]

            # a matcher may hash and match, never list or export the bank
            for path in ("/v1/banks", "/v1/banks/known/entries", "/v1/banks/known/export"):
                assert client.get(path, headers=auth("matcher")).status_code == 403, path
                assert client.get(path, headers=auth("curator")).status_code == 200, path
            assert client.get("/c/banks", headers=auth("matcher")).status_code == 403

            # removed through the API: no longer matched by any worker
            entry_id = added.json()["ids"][0]
            gone = client.delete(f"/v1/banks/known/entries/{entry_id}", headers=auth("curator"))
            assert gone.status_code == 204
            for _ in range(4):
                after = client.post("/v1/match/upload", content=by_hash, headers=auth("matcher"))
                assert after.json()["matches"] == []
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    logs = (out + err).decode(errors="replace")
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert {"method", "route", "status", "ms", "key"} <= set(lines[0])
    assert {"/v1/match/upload", "/v1/banks/{name}/entries"} <= {line["route"] for line in lines}
    assert ' - "' not in logs and '"POST /' not in logs  # no access-log line, no client address
    assert list(spool.iterdir()) == []  # nothing spooled
    reopened = open_bank(location, readonly=True)
    actors = {event.actor for event in reopened.audit.events()}
    reopened.close()
    assert {"admin-1", "curator-1"} <= actors
    files = [] if location.startswith("postgresql:") else Path(location).parent.rglob("*")
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            assert by_file not in data and by_hash[100:400] not in data, path


def test_two_replicas_share_one_postgresql_bank(pg_server: object, tmp_path: Path) -> None:
    """Two separate services (replicas) on one PostgreSQL bank: what one adds or removes, the
    other matches (or stops matching) on its next request."""
    location = pg_server.new_database()  # type: ignore[attr-defined]
    _cli("bank", "init", location)
    key = _cli("apikey", "create", "--bank", location, "--role", "curator", "--name", "c")
    token = key.strip().splitlines()[-1]
    ports = [_free_port(), _free_port()]
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "hashwarden", "serve", "--bank", location, "--port", str(p)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    auth = {"Authorization": f"Bearer {token}"}
    image = png(51)
    try:
        a, b = (httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports)
        for client in (a, b):
            for _ in range(300):
                try:
                    client.get("/status")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        assert a.post("/v1/banks", json={"name": "replicated"}, headers=auth).status_code == 201
        added = a.post("/v1/banks/replicated/entries/upload", content=image, headers=auth).json()[
            "ids"
        ][0]
        seen = b.post("/v1/match/upload", content=image, headers=auth).json()["matches"]
        assert [m["banks"] for m in seen] == [["replicated"]]
        assert b.delete(f"/v1/banks/replicated/entries/{added}", headers=auth).status_code == 204
        assert a.post("/v1/match/upload", content=image, headers=auth).json()["matches"] == []
        a.close()
        b.close()
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait(timeout=30)
