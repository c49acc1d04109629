"""End to end: real `hashwarden watch` processes noticing real file-system events, reporting to
a real `hashwarden serve` on loopback. Images are generated and benign."""

from __future__ import annotations

import base64
import getpass
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from PIL import Image, ImageOps

from hashwarden.bank import create_bank, open_bank
from hashwarden.exchange.bundle import generate_keys
from hashwarden.exchange.sync import publish

from ._live import (
    AgentProcess,
    Service,
    add,
    bank_with,
    image,
    status,
    wait_for,
    write_config,
)

BANKED, UNRELATED = 101, 202


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Service]:
    bank_with(tmp_path / "central.db", [image(BANKED)]).close()
    service = Service(tmp_path / "central.db", tmp_path / "serve.log")
    try:
        yield service
    finally:
        service.stop()


def _agent(
    tmp_path: Path, central: Service | SimpleNamespace, **settings: Any
) -> tuple[AgentProcess, Path]:
    """An agent watching tmp_path/watched with its own copy of the bank."""
    watched, state = tmp_path / "watched", tmp_path / "state"
    watched.mkdir(exist_ok=True)
    (tmp_path / "media").mkdir(exist_ok=True)
    local = tmp_path / "local.db"
    if not local.exists() and "sync_url" not in settings:
        bank_with(local, [image(BANKED)]).close()
    config = {
        "paths": [str(watched)],
        "bank": str(local),
        "report_to": central.url,
        "key": central.agent_key,
        "state": str(state),
        "agent_id": "laptop-17",
        "host": "laptop-17.example.org",
        "max_cpu": 100,
        "heartbeat_every": 1,
        "status_every": 0.3,
        "retry_max": 1,
        "media_roots": [str(tmp_path / "media")],
        "media_need_mount": False,
        "media_every": 0.3,
        **settings,
    }
    path = write_config(tmp_path / "agent.toml", config)
    return AgentProcess(path, tmp_path / "agent.log"), state


def _log(tmp_path: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in (tmp_path / "agent.log", tmp_path / "serve.log")
        if p.exists()
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hashwarden", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _mirrored_smaller(data: bytes) -> bytes:
    turned = ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB"))
    buffer = io.BytesIO()
    turned.resize((240, 180)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_copied_moved_unpacked_and_zipped_files_each_raise_one_alert(
    tmp_path: Path, central: Service
) -> None:
    central.start()
    agent, state = _agent(tmp_path, central)
    watched, outside = tmp_path / "watched", tmp_path / "outside"
    outside.mkdir()
    banked = image(BANKED)
    (outside / "holiday.png").write_bytes(banked)
    (outside / "turned.jpg").write_bytes(_mirrored_smaller(banked))
    with zipfile.ZipFile(outside / "photos.zip", "w") as archive:
        archive.writestr("inner/a.png", banked)
        archive.writestr("inner/readme.txt", "nothing here")
    agent.start()
    try:
        wait_for("the first sweep", lambda: status(state).get("sweep", {}).get("finished"))
        (watched / "unrelated.png").write_bytes(image(UNRELATED))
        shutil.copy(outside / "holiday.png", watched / "copied.png")
        os.rename(outside / "turned.jpg", watched / "moved.jpg")
        with zipfile.ZipFile(outside / "photos.zip") as archive:
            archive.extractall(watched / "unpacked")
        shutil.copy(outside / "photos.zip", watched / "photos.zip")
        expected = {
            str(watched / "copied.png"),
            str(watched / "moved.jpg"),
            str(watched / "unpacked" / "inner" / "a.png"),
            str(watched / "photos.zip") + "!inner/a.png",
        }
        alerts = wait_for(
            "four alerts", lambda: (a := central.alerts()) and len(a) >= 4 and a, deadline=120
        )

        def settled() -> bool:
            now = status(state)
            return (
                now.get("files", {}).get("hashed", 0) >= 6
                and now.get("pending") == 0
                and now.get("outbox", {}).get("pending") == 0
            )

        wait_for("the agent to settle", settled)
        alerts = central.alerts()
        assert sorted(a["path"] for a in alerts) == sorted(expected), _log(tmp_path)
        by_path = {a["path"]: a for a in alerts}
        copied = by_path[str(watched / "copied.png")]
        assert copied["host"] == "laptop-17.example.org" and copied["agent"] == "laptop-17"
        assert copied["user"] == getpass.getuser()
        assert copied["sha256"] == hashlib.sha256(banked).hexdigest()
        assert copied["size"] == len(banked)
        assert copied["times"]["modified"] and copied["detected"]
        assert copied["noticed_by"] == "watch"
        assert copied["agent_version"] and copied["bank_version"]
        (match,) = [m for m in copied["matches"] if m["kind"] == "sha256"]
        assert match["category"] == "csam-a" and match["series"] == "series-0"
        assert match["central_entry"] == 1
        turned = by_path[str(watched / "moved.jpg")]
        (near,) = turned["matches"]
        assert near["kind"] == "pdq" and near["orientation"] == "flip_horizontal"
        assert 0 < near["distance"] <= 31
        assert not any("unrelated" in a["path"] for a in alerts)
        assert all(set(a["hashes"]) <= {"md5", "sha1", "sha256", "pdq"} for a in alerts)

        # the agent reports itself, and says what it does
        (listed,) = wait_for("a heartbeat", central.agents)
        assert listed["agent"] == "laptop-17" and listed["silent"] is False
        assert listed["bank_version"] == copied["bank_version"]
        shown = _cli("watch", "--status", "--state", str(state))
        assert shown.returncode == 0, shown.stderr
        assert "agent laptop-17" in shown.stdout and "4 delivered" in shown.stdout
        listed_cli = _cli("alerts", "list", str(tmp_path / "central.db"))
        assert listed_cli.stdout.count("laptop-17.example.org") == 4

        # a medium appears (here a folder in the media root the config names) and is swept
        stick = outside / "stick"
        (stick / "DCIM").mkdir(parents=True)
        (stick / "DCIM" / "IMG_0001.png").write_bytes(banked)
        (stick / "DCIM" / "IMG_0002.png").write_bytes(image(UNRELATED + 1))
        os.rename(stick, tmp_path / "media" / "USB-STICK")
        found = wait_for("an alert from the medium", lambda: len(central.alerts()) == 5)
        medium = central.alerts(after=max(a["id"] for a in alerts))
        assert found and [(a["path"], a["noticed_by"]) for a in medium] == [
            (str(tmp_path / "media" / "USB-STICK" / "DCIM" / "IMG_0001.png"), "media")
        ]
    finally:
        code = agent.stop()
    assert code == 0, _log(tmp_path)
    stopped = _cli("watch", "--status", "--state", str(state))
    assert stopped.returncode == 1 and "not running" in stopped.stdout


def test_alerts_wait_for_the_service_and_survive_kill_9(tmp_path: Path, central: Service) -> None:
    """With the service down, alerts wait in the outbox; a `kill -9` of the agent loses and
    duplicates none; started again, with the service up, it delivers each exactly once."""
    agent, state = _agent(tmp_path, central)
    watched = tmp_path / "watched"
    agent.start()
    try:
        wait_for("the first sweep", lambda: status(state).get("sweep", {}).get("finished"))
        names = [f"copy-{n}.png" for n in range(3)]
        for name in names:
            (watched / name).write_bytes(image(BANKED))
        wait_for(
            "three alerts queued",
            lambda: status(state).get("outbox", {}).get("pending") == 3,
        )
        agent.kill_9()
        with sqlite3.connect(state / "agent.db") as db:
            queued = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()
        assert queued == (3,)
        central.start()
        agent.start()
        wait_for("three alerts delivered", lambda: len(central.alerts()) >= 3, deadline=120)
        # and once more, killed and started after delivery: nothing is sent twice
        wait_for("the outbox emptied", lambda: status(state).get("outbox", {}).get("pending") == 0)
        agent.kill_9()
        agent.start()
        wait_for(
            "a sweep after the restart",
            lambda: (
                (s := status(state))
                and s.get("pid") == agent.pid
                and s["sweep"].get("finished")
                and not s["sweep"].get("running")
            ),
        )
    finally:
        agent.stop()
    alerts = central.alerts()
    assert sorted(a["path"] for a in alerts) == sorted(str(watched / n) for n in names), _log(
        tmp_path
    )


@pytest.fixture
def sync_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder of published bundles served over HTTP on loopback."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def _local_entries(tmp_path: Path) -> int:
    with open_bank(tmp_path / "local.db", readonly=True) as bank:
        return bank.stats().entries


def test_a_new_bank_version_alerts_on_a_present_file_and_bad_bundles_are_refused(
    tmp_path: Path, central: Service, sync_folder: tuple[Path, str]
) -> None:
    folder, url = sync_folder
    private, public = generate_keys("central", tmp_path)
    with open_bank(tmp_path / "central.db") as bank:
        assert publish(bank, private, folder) is not None  # bundle 1: the banked image
    create_bank(tmp_path / "local.db").close()  # the agent starts with an empty bank
    agent, state = _agent(
        tmp_path, central, sync_url=url, sync_key=str(public), sync_every=1, sweep_every=2
    )
    watched = tmp_path / "watched"
    (watched / "present.png").write_bytes(image(303))  # not banked yet
    central.start()
    agent.start()
    try:
        wait_for(
            "bundle 1 and a sweep",
            lambda: (
                (s := status(state))
                and s["bank"].get("applied") == 1
                and s["sweep"].get("number", 0) >= 2
            ),
        )
        assert central.alerts() == []
        # the central node banks it and publishes: the next sweep finds it
        with open_bank(tmp_path / "central.db") as bank:
            add(bank, [image(303)], category="csam-b")
            assert publish(bank, private, folder) is not None
        (alert,) = wait_for("an alert for the present file", central.alerts)
        assert alert["path"] == str(watched / "present.png")
        assert alert["noticed_by"] == "sweep"
        assert alert["category"] == "csam-b"
        origin = json.loads((folder / "index.json").read_text())["origin"]
        assert alert["bank_version"].startswith(f"{origin}:")
        entries = _local_entries(tmp_path)
        assert entries == 2

        # a tampered bundle (its digest in the index matching) is refused, the bank unchanged
        (watched / "third.png").write_bytes(image(404))
        with open_bank(tmp_path / "central.db") as bank:
            add(bank, [image(404)])
            third = publish(bank, private, folder)
        assert third is not None
        good = third.read_bytes()
        bundle = json.loads(good)
        bundle["body"]["upserts"][0]["category"] = "non-pertinent"
        _replace_bundle(folder, third, json.dumps(bundle).encode())
        wait_for(
            "the tampered bundle refused",
            lambda: "signature" in (status(state)["bank"].get("last_error") or ""),
        )
        # unsigned: no signature at all
        del bundle["signature"]
        _replace_bundle(folder, third, json.dumps(bundle).encode())
        wait_for(
            "the unsigned bundle refused",
            lambda: "is not signed" in (status(state)["bank"].get("last_error") or ""),
        )
        assert _local_entries(tmp_path) == entries
        assert len(central.alerts()) == 1
        # the genuine bundle is applied, and its entry found at the next sweep
        _replace_bundle(folder, third, good)
        wait_for("an alert for the third file", lambda: len(central.alerts()) == 2)
    finally:
        agent.stop()
    assert _local_entries(tmp_path) == entries + 1


def _replace_bundle(folder: Path, bundle: Path, data: bytes) -> None:
    """Swap a published bundle's bytes, with its digest in the index, so that only the
    signature can tell."""
    bundle.write_bytes(data)
    index = json.loads((folder / "index.json").read_text())
    for item in index["bundles"]:
        if item["file"] == bundle.name:
            item["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "index.json").write_text(json.dumps(index))


class _Recorder(BaseHTTPRequestHandler):
    """Stands in for the service on loopback and keeps every request body it is sent."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).bodies.append(body)
        alert = self.path == "/v1/alerts"
        self.send_response(201 if alert else 204)
        answer = b'{"id": 1, "duplicate": false}' if alert else b""
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def test_nothing_of_a_matched_file_leaves_the_machine(tmp_path: Path) -> None:
    """Everything the agent sends is recorded: hashes and metadata, never a piece of the file
    (raw, base64 or hex), never more bytes than a few kilobytes an alert."""
    _Recorder.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    recorder = SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}", agent_key="k")
    agent, state = _agent(tmp_path, recorder)
    banked = image(BANKED)
    agent.start()
    try:
        wait_for("the first sweep", lambda: status(state).get("sweep", {}).get("finished"))
        (tmp_path / "watched" / "copy.png").write_bytes(banked)
        wait_for("the alert delivered", lambda: status(state).get("outbox", {}).get("delivered"))
    finally:
        agent.stop()
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()
    alerts = [json.loads(b) for b in _Recorder.bodies if b and "idempotency_key" in json.loads(b)]
    assert len(alerts) == 1 and alerts[0]["path"].endswith("copy.png")
    sent = b"".join(_Recorder.bodies)
    pieces = [banked[i : i + 24] for i in range(0, len(banked) - 24, 997)]
    for piece in pieces:
        for form in (piece, base64.b64encode(piece)[:24], piece.hex().encode()):
            assert form not in sent
    assert all(len(b) < 8192 for b in _Recorder.bodies)
