"""The match service under hostile clients (issue 13): nothing blocks the event loop, a match
answer survives a bank whose write lock is held elsewhere, decoding is bounded, an undecodable
upload says why, and bad input gets a 4xx, never a 5xx.

Servers listen on loopback only and are stopped by the test that started them."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank, create_bank
from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.errors import UsageError
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key
from hashwarden.signals.base import Signal
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service, png
from .test_e2e import _cli, _free_port

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

FAR_OUT = "9999-12-31T23:59:59-14:00"


def png_of_one_colour(width: int, height: int) -> bytes:
    """An RGB PNG of one colour, written row by row (never whole in memory): a few hundred KB
    that decode to width * height * 4 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = (b"\x00" + b"\x7f" * (width * 3)) * 100
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = [packer.compress(rows) for _ in range(height // 100)]
    idat.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(idat))
        + chunk(b"IEND", b"")
    )


def multipart(parts: int, boundary: str = "hw-boundary") -> tuple[bytes, dict[str, str]]:
    """A form with one small file and `parts - 1` tiny fields."""
    pieces = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'.encode()
        for i in range(parts - 1)
    ]
    pieces.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\nhello\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(pieces), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def high_water_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@contextmanager
def served(location: str, tmp_path: Path, **env: str) -> Iterator[tuple[httpx.Client, int]]:
    """`hashwarden serve` with one worker (one process: the server is the child itself) on
    loopback; yields a client and the server's process id, and stops it."""
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "hashwarden", "serve", "--bank", location),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(300):
                try:
                    if client.get("/status").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield client, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def sqlite_location(tmp_path: Path) -> str:
    location = str(tmp_path / "served.db")
    create_bank(location).close()
    return location


def _token(location: str, role: str) -> dict[str, str]:
    key = _cli("apikey", "create", "--bank", location, "--role", role, "--name", f"{role}-x")
    return {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}


# -- 1. nothing blocks the event loop ------------------------------------------------------------


_UPLOADER = """
import json, sys, httpx
url, body_file, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with open(body_file, "rb") as f:
    body = f.read()
with httpx.Client(timeout=120) as client:
    print("ready", flush=True)
    sys.stdin.readline()
    got = client.post(url, content=body, headers=headers)
print(got.status_code, got.text)
"""


def test_status_answers_while_a_20000_part_body_is_parsed(
    sqlite_location: str, tmp_path: Path
) -> None:
    """Splitting and hashing run off the loop: the same worker's `/status` answers within
    100 ms throughout (the parts limit is raised so the whole body really is split). The body
    is sent by another process, so this one's polling never waits on its own upload, and only
    once that process is up (its start-up is not part of what is measured)."""
    auth = _token(sqlite_location, "matcher")
    body, headers = multipart(20_000)
    body_file = tmp_path / "form.bin"
    body_file.write_bytes(body)
    with served(sqlite_location, tmp_path, HASHWARDEN_MAX_MULTIPART_PARTS="100000") as (
        client,
        _,
    ):
        url = f"{client.base_url}/v1/match/upload"
        latencies = []
        client.get("/status")  # the connection is open before the upload starts
        uploader = subprocess.Popen(
            [sys.executable, "-c", _UPLOADER, url, str(body_file), json.dumps(headers | auth)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert uploader.stdout is not None and uploader.stdin is not None
            assert uploader.stdout.readline().strip() == "ready"
            uploader.stdin.write("go\n")
            uploader.stdin.flush()
            while uploader.poll() is None and len(latencies) < 5000:
                started = time.perf_counter()
                assert client.get("/status").text == "I-AM-ALIVE"
                latencies.append(time.perf_counter() - started)
                time.sleep(0.005)
            status, _, text = uploader.communicate(timeout=120)[0].partition(" ")
        finally:
            uploader.kill()
        assert status == "200", text
        assert json.loads(text)["hashes"]["sha256"] == hash_bytes(b"hello").sha256
    # The old code held the loop for the whole split (3.5 s and more): every poll during it
    # waited. Scheduling on a busy 2-core machine can delay a single answer past 100 ms, so
    # nine in ten must come within 100 ms and none may wait a second.
    assert len(latencies) >= 3, latencies
    ordered = sorted(latencies)
    assert ordered[int(len(ordered) * 0.9)] < 0.1, ordered[-5:]
    assert ordered[-1] < 1.0, ordered[-5:]


def test_multipart_parts_are_bounded(service: Service) -> None:
    body, headers = multipart(20_000)
    got = service.client.post(
        "/v1/match/upload", content=body, headers={**headers, **service.as_("matcher")}
    )
    assert got.status_code == 413, got.text
    assert "parts" in got.json()["detail"]
    small, headers = multipart(3)
    ok = service.client.post(
        "/v1/match/upload", content=small, headers={**headers, **service.as_("matcher")}
    )
    assert ok.status_code == 200, ok.text


def test_json_bodies_are_bounded(service: Service) -> None:
    big = {"signals": {"md5": "0" * 32}, "uploader_ref": None, "pad": "x" * (2 << 20)}
    got = service.client.post("/v1/match/hashes", json=big, headers=service.as_("matcher"))
    assert got.status_code == 413, got.text


# -- 2. a match answer is never lost -------------------------------------------------------------


@contextmanager
def write_lock_held(bank: Bank) -> Iterator[Any]:
    """Hold the bank's write lock from another connection, as a long import would; yields
    that connection (it can read)."""
    location = str(bank.location)
    if location.startswith("postgresql:"):
        import psycopg

        from hashwarden._sql import _WRITE_LOCK

        pg = psycopg.connect(location, autocommit=True)
        pg.execute("BEGIN")
        pg.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
        try:
            yield pg
        finally:
            pg.execute("ROLLBACK")
            pg.close()
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")
            conn.close()


def _uploader_refs(location: str) -> list[str | None]:
    """The report drafts' uploader references, read through a connection of the test's own
    (the service's may be waiting for the lock)."""
    sql = "SELECT uploader_ref FROM action_reports ORDER BY id"
    if location.startswith("postgresql:"):
        import psycopg

        with psycopg.connect(location) as pg:
            return [r[0] for r in pg.execute(sql).fetchall()]
    with sqlite3.connect(location) as conn:
        return [r[0] for r in conn.execute(sql).fetchall()]


def test_a_match_is_answered_while_the_write_lock_is_held(bank: Bank) -> None:
    """The answer arrives with its matches while another connection holds the write lock; the
    report drafts it sets off are queued in memory and written once the lock is free."""
    token = create_key(bank, "m", "matcher")
    admin = create_key(bank, "a", "admin")
    pdq = hash_bytes(png(31)).pdq
    assert pdq is not None
    bank.entries.add(NewEntry([Signal("pdq", pdq)], category=parse_category("A")))
    auth = {"Authorization": f"Bearer {token}"}
    location = str(bank.location)
    with TestClient(create_app(ServiceSettings(), bank)) as client:
        made = client.post(
            "/v1/actions/rules",
            json={"name": "report-all", "report": True},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert made.status_code == 201, made.text
        client.post("/v1/match/hashes", json={"signals": {"pdq": pdq}}, headers=auth)
        assert _uploader_refs(location) == [None]  # written at once: nothing holds the lock
        answers: list[httpx.Response] = []
        with write_lock_held(bank):

            def ask() -> None:
                for ref in ("first", "second"):
                    answers.append(
                        client.post(
                            "/v1/match/hashes",
                            json={"signals": {"pdq": pdq}, "uploader_ref": ref},
                            headers=auth,
                        )
                    )

            asking = threading.Thread(target=ask, daemon=True)
            asking.start()
            asking.join(timeout=60)
            assert not asking.is_alive(), "the match answer waited on the write lock"
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert all(len(a.json()["matches"]) == 1 for a in answers)
            assert _uploader_refs(location) == [None]  # not yet: the lock is still held
        for _ in range(600):  # after the lock is released: written, in order, nothing lost
            if len(_uploader_refs(location)) == 3:
                break
            time.sleep(0.05)
        assert _uploader_refs(location) == [None, "first", "second"]


# -- 3. decoding bounded -------------------------------------------------------------------------


def test_a_110_megapixel_png_is_refused_with_bounded_memory(
    sqlite_location: str, tmp_path: Path
) -> None:
    """Checked from the header, never decoded: 413 naming the pixel limit, and the server's
    memory high-water grows by far less than the ~450 MB the decode would take."""
    bomb = png_of_one_colour(11_000, 10_000)
    assert len(bomb) < 500_000
    auth = _token(sqlite_location, "matcher")
    with served(sqlite_location, tmp_path) as (client, pid):
        warm = client.post("/v1/match/upload", content=png(5), headers=auth)
        assert warm.status_code == 200 and warm.json()["hashes"]["pdq"]
        before = high_water_kib(pid)
        raw = client.post("/v1/match/upload", content=bomb, headers=auth)
        assert raw.status_code == 413, raw.text
        assert "pixel" in raw.json()["detail"]
        form = client.post(
            "/v1/match/upload", files={"photo": ("b.png", bomb, "image/png")}, headers=auth
        )
        assert form.status_code == 413, form.text
        grown_mib = (high_water_kib(pid) - before) / 1024
    assert grown_mib < 150, grown_mib


def test_pixel_cap_is_a_setting(bank: Bank) -> None:
    token = create_key(bank, "m", "matcher")
    auth = {"Authorization": f"Bearer {token}"}
    client = TestClient(create_app(ServiceSettings(max_upload_pixels=320 * 240 - 1), bank))
    refused = client.post("/v1/match/upload", content=png(1), headers=auth)
    assert refused.status_code == 413 and "pixel" in refused.json()["detail"]
    client = TestClient(create_app(ServiceSettings(max_upload_pixels=320 * 240), bank))
    assert client.post("/v1/match/upload", content=png(1), headers=auth).status_code == 200


def test_decodes_at_once_are_bounded(bank: Bank, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every decode slot busy and no room to queue, an upload gets 503 and Retry-After."""
    import hashwarden.service.offload as offload

    release = threading.Event()
    entered = threading.Event()
    real = offload.hash_body

    def slow(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(offload, "hash_body", slow)
    token = create_key(bank, "m", "matcher")
    auth = {"Authorization": f"Bearer {token}"}
    settings = ServiceSettings(max_decodes=1, decode_queue=0)
    with TestClient(create_app(settings, bank)) as client:
        first: list[httpx.Response] = []
        busy = threading.Thread(
            target=lambda: first.append(
                client.post("/v1/match/upload", content=png(2), headers=auth)
            )
        )
        busy.start()
        assert entered.wait(30)
        second = client.post("/v1/match/upload", content=png(3), headers=auth)
        release.set()
        busy.join(30)
    assert second.status_code == 503, second.text
    assert int(second.headers["Retry-After"]) >= 1
    assert first[0].status_code == 200


# -- 4. an undecodable upload says why -----------------------------------------------------------


def test_an_undecodable_upload_answers_with_the_reason(bank: Bank, service: Service) -> None:
    broken = png(7)[:300]  # a PNG cut short: its SHA-256 still matches
    bank.entries.add(NewEntry([Signal("sha256", hash_bytes(broken).sha256)]))
    auth = service.as_("matcher")
    got = service.client.post("/v1/match/upload", content=broken, headers=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert [m["kind"] for m in body["matches"]] == ["sha256"]
    assert "pdq" not in body["hashes"]
    assert "image" in body["image_error"] and body["image_error"].startswith(
        "image matching skipped"
    )
    text = service.client.post("/v1/match/upload", content=b"plain text", headers=auth).json()
    assert "not an image" in text["image_error"]
    fine = service.client.post("/v1/match/upload", content=png(8), headers=auth).json()
    assert fine["image_error"] is None
    hma = service.client.post(
        "/h/hash", files={"photo": ("b.png", broken, "image/png")}, headers=auth
    )
    assert hma.status_code == 200 and "image" in hma.headers["X-Hashwarden-Image-Error"]
    metrics = service.client.get("/metrics").text
    assert 'hashwarden_undecodable_uploads_total{reason="corrupt"} 2.0' in metrics
    assert 'hashwarden_undecodable_uploads_total{reason="not_an_image"} 1.0' in metrics


# -- 5. bad input gets a 4xx ---------------------------------------------------------------------


def test_deeply_nested_json_is_a_4xx(service: Service) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    admin = {**service.as_("admin"), "Content-Type": "application/json"}
    assert service.client.post("/c/banks", json={"name": "B"}, headers=admin).status_code == 201
    for path, body in (
        ("/m/compare", nested),
        ("/m/compare", '{"pdq": ' + nested + "}"),
        ("/m/compare", '{"pdq": [' + "[" * 500 + "]" * 500 + ', "00"]}'),
        ("/c/bank/B/signal", nested),
        ("/c/bank/B/signal", '{"pdq": ' + "[" * 900 + "]" * 900 + "}"),
        ("/v1/match/hashes", '{"signals": ' + nested + "}"),
        ("/v1/banks", nested),
    ):
        got = service.client.post(path, content=body, headers=admin)
        assert 400 <= got.status_code < 500, (path, got.status_code, got.text[:200])


def test_far_out_dates_are_a_4xx(bank: Bank, service: Service) -> None:
    auth = service.as_("admin")
    client = service.client
    assert client.post("/v1/banks", json={"name": "b"}, headers=auth).status_code == 201
    added = client.post("/v1/banks/b/entries", json={"signals": {"md5": "1" * 32}}, headers=auth)
    entry = added.json()["ids"][0]
    for path, body in (
        ("/v1/banks/b", {"disabled_until": FAR_OUT}),
        (f"/v1/banks/b/entries/{entry}", {"disabled_until": FAR_OUT}),
        (f"/v1/banks/b/entries/{entry}", {"disabled_until": "0001-01-01T00:00:00+14:00"}),
    ):
        got = client.patch(path, json=body, headers=auth)
        assert got.status_code == 422, (path, got.status_code, got.text)
    fine = client.patch(
        "/v1/banks/b", json={"disabled_until": "9999-12-31T00:00:00Z"}, headers=auth
    )
    assert fine.status_code == 200, fine.text
    client.patch("/v1/banks/b", json={"disabled_until": ""}, headers=auth)
    for incident in (FAR_OUT, "0001-01-01T00:00:00+01:00"):
        by_hash = client.post(
            "/v1/match/hashes",
            json={"signals": {"md5": "1" * 32}, "incident_time": incident},
            headers=auth,
        )
        assert by_hash.status_code == 422, by_hash.text
        by_file = client.post(
            "/v1/match/upload", params={"incident_time": incident}, content=b"x", headers=auth
        )
        assert by_file.status_code == 422, by_file.text


def test_unknown_keyless_role_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HASHWARDEN_KEYLESS_ROLE", "Matcher")
    with pytest.raises(UsageError, match="HASHWARDEN_KEYLESS_ROLE"):
        ServiceSettings.from_env()
    with pytest.raises(UsageError):
        ServiceSettings(keyless_role="nobody")
    monkeypatch.setenv("HASHWARDEN_KEYLESS_ROLE", "matcher")
    assert ServiceSettings.from_env().keyless_role == "matcher"
    monkeypatch.setenv("HASHWARDEN_MAX_UPLOAD_PIXELS", "lots")
    with pytest.raises(UsageError, match="HASHWARDEN_MAX_UPLOAD_PIXELS"):
        ServiceSettings.from_env()
    monkeypatch.delenv("HASHWARDEN_MAX_UPLOAD_PIXELS")
    location = str(tmp_path / "bank.db")
    create_bank(location).close()
    run = subprocess.run(
        [sys.executable, "-m", "hashwarden", "serve", "--bank", location, "--port", "1"],
        env={**os.environ, "HASHWARDEN_KEYLESS_ROLE": "Matcher"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert "HASHWARDEN_KEYLESS_ROLE" in run.stderr and "Traceback" not in run.stderr


def test_patching_an_entry_through_a_missing_bank_changes_nothing(
    bank: Bank, service: Service
) -> None:
    auth = service.as_("admin")
    client = service.client
    assert client.post("/v1/banks", json={"name": "b"}, headers=auth).status_code == 201
    entry = client.post(
        "/v1/banks/b/entries", json={"signals": {"md5": "2" * 32}, "note": "kept"}, headers=auth
    ).json()["ids"][0]
    loose = bank.entries.add(NewEntry([Signal("md5", "3" * 32)], note="loose"))
    for name, entry_id in (("nobank", entry), ("b", loose)):
        got = client.patch(
            f"/v1/banks/{name}/entries/{entry_id}", json={"note": "changed"}, headers=auth
        )
        assert got.status_code == 404, got.text
    assert bank.entries.get(entry).note == "kept"
    assert bank.entries.get(loose).note == "loose"
    ok = client.patch(f"/v1/banks/b/entries/{entry}", json={"note": "changed"}, headers=auth)
    assert ok.status_code == 200 and ok.json()["note"] == "changed"


# -- 6. no page loads anything from another host -------------------------------------------------


def test_no_page_references_an_outside_host(service: Service) -> None:
    client = service.client
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    app = client.app
    paths = {"/docs", "/redoc", "/docs/oauth2-redirect"}
    for route in getattr(app, "routes", []):
        if "GET" in getattr(route, "methods", set()) and "{" not in route.path:
            paths.add(route.path)
    for path in sorted(paths):
        got = client.get(path, headers=service.as_("admin"))
        if "html" in got.headers.get("content-type", ""):
            assert "http://" not in got.text and "https://" not in got.text, path
            assert "//cdn" not in got.text, path


def test_settings_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "service.md").read_text()
    for name in (
        "HASHWARDEN_MAX_UPLOAD_PIXELS",
        "HASHWARDEN_MAX_DECODES",
        "HASHWARDEN_DECODE_QUEUE",
        "HASHWARDEN_MAX_MULTIPART_PARTS",
        "HASHWARDEN_MAX_JSON_BYTES",
        "HASHWARDEN_ACTION_WAIT_S",
        "image_error",
        "hashwarden_undecodable_uploads_total",
    ):
        assert name in text, name
