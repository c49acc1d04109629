"""`hashwarden serve --workers 2` on loopback: connections shared out evenly over both workers,
a killed worker replaced, metrics and rate limits shared by them, and the node's private
directory removed at the end."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hashwarden.bank import create_bank
from hashwarden.service.ratelimit import SharedRateLimiter

from .test_e2e import _cli, _free_port

CONNECTIONS = 32


@dataclass
class Node:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One server with two workers for the module (each start takes seconds); a `matcher` key
    without a rate, a `limited` one of 600 a minute (10 a second, 10 at once), an `admin` key;
    each worker writes its count of matches every 0.2 s."""
    folder = tmp_path_factory.mktemp("node")
    location = str(folder / "bank.db")
    create_bank(location).close()
    keys = {
        "matcher": _cli("apikey", "create", "--bank", location, "--role", "matcher", "--name", "m"),
        "limited": _cli(
            *("apikey", "create", "--bank", location, "--role", "matcher"),
            *("--name", "limited", "--rate", "600"),
        ),
        "admin": _cli("apikey", "create", "--bank", location, "--role", "admin", "--name", "a"),
    }
    with _serving(location, folder / "serve.log", HASHWARDEN_TALLY_FLUSH_S="0.2") as (_, url):
        yield Node(url, {role: k.strip().splitlines()[-1] for role, k in keys.items()})


@contextmanager
def _serving(location: str, log: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`serve --workers 2` on a free loopback port, once both workers listen; stopped (SIGTERM)
    at the end."""
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "hashwarden", "serve", "--bank", location),
                *("--port", str(port), "--workers", "2"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        deadline = time.monotonic() + 120
        while b"2 workers listening" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _clients(node: Node, count: int = CONNECTIONS) -> list[httpx.Client]:
    """Keep-alive connections, each opened by its first request (so each is placed once)."""
    return [httpx.Client(base_url=node.url, timeout=30) for _ in range(count)]


def _worker(client: httpx.Client) -> int:
    return int(client.get("/v1/status").json()["worker"])


def test_keep_alive_connections_are_shared_out_evenly(node: Node) -> None:
    """A client holding 8 keep-alive connections (as `wrk -c8`) gets 4 on each worker, every
    time: with the kernel choosing (SO_REUSEPORT) a split of 4 and 4 came one time in four,
    and all 8 on one worker about one time in a hundred."""
    for _ in range(3):
        clients = _clients(node, 8)
        try:
            placed = Counter(_worker(c) for c in clients)
            assert sorted(placed.values()) == [4, 4], placed
            # keep-alive: a connection stays with its worker
            assert all(_worker(c) == _worker(c) for c in clients)
        finally:
            for client in clients:
                client.close()


def test_metrics_are_the_totals_of_both_workers(node: Node) -> None:
    clients = _clients(node)
    auth = {"Authorization": f"Bearer {node.keys['matcher']}"}
    query = {"signal_type": "pdq", "signal": "a5" * 32}
    pattern = re.compile(
        r'^hashwarden_requests_total\{method="GET",route="/m/raw_lookup",status="200"\} (\S+)$',
        re.MULTILINE,
    )
    try:
        by_worker = {_worker(c): c for c in clients}
        assert len(by_worker) == 2

        def total(client: httpx.Client) -> float:
            found = pattern.search(client.get("/metrics").text)
            return float(found.group(1)) if found else 0.0

        before = {pid: total(c) for pid, c in by_worker.items()}
        assert len(set(before.values())) == 1, before  # every worker shows the same total
        for client in clients:
            for _ in range(3):
                assert client.get("/m/raw_lookup", params=query, headers=auth).status_code == 200
        after = {pid: total(c) for pid, c in by_worker.items()}
        assert set(after.values()) == {next(iter(before.values())) + 3 * CONNECTIONS}, after
    finally:
        for client in clients:
            client.close()


def _dashboard_of(node: Node) -> httpx.Client:
    """A client signed in to the console as the admin (cookie and CSRF token as a browser)."""
    client = httpx.Client(base_url=node.url, timeout=30, follow_redirects=True)
    page = client.get("/ui/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf, page.text
    answer = client.post("/ui/sign-in", data={"csrf": csrf.group(1), "key": node.keys["admin"]})
    assert "Sign out" in answer.text, answer.text
    return client


def _matches_today(dashboard: httpx.Client) -> int:
    found = re.search(r"<b>(\d+)</b>matches today", dashboard.get("/ui/").text)
    assert found
    return int(found.group(1))


def test_the_dashboard_counts_the_matches_of_both_workers(node: Node) -> None:
    """Each worker counts its matches in memory and adds them to the bank every 0.2 s: the
    dashboard, whichever worker serves it, soon shows the matches of both."""
    md5 = "5d" * 16
    admin = {"Authorization": f"Bearer {node.keys['admin']}"}
    matcher = {"Authorization": f"Bearer {node.keys['matcher']}"}
    clients = _clients(node)
    dashboard = _dashboard_of(node)
    try:
        by_worker = {_worker(c): c for c in clients}
        assert len(by_worker) == 2
        made = dashboard.post("/v1/banks", json={"name": "tally"}, headers=admin)
        assert made.status_code == 201, made.text
        entry = {"signals": {"md5": md5}, "category": "csam-a"}
        added = dashboard.post("/v1/banks/tally/entries", json=entry, headers=admin)
        assert added.status_code == 201, added.text
        before = _matches_today(dashboard)
        for client in by_worker.values():
            for _ in range(3):
                body = {"signals": {"md5": md5}}
                found = client.post("/v1/match/hashes", json=body, headers=matcher)
                assert found.json()["matches"], found.text
        expected = before + 3 * len(by_worker)
        deadline = time.monotonic() + 60
        while (count := _matches_today(dashboard)) != expected:
            assert count < expected and time.monotonic() < deadline, (count, expected)
            time.sleep(0.1)
    finally:
        dashboard.close()
        for client in clients:
            client.close()


def test_a_rate_limit_counts_the_requests_of_both_workers(node: Node) -> None:
    """600 a minute: 10 at once and 10 a second. Counted per worker, two workers would let
    about twice as many through; shared, no more than the bucket and its refill over the
    time the requests took."""
    clients = _clients(node, 16)
    auth = {"Authorization": f"Bearer {node.keys['limited']}"}
    query = {"signal_type": "pdq", "signal": "5a" * 32}
    try:
        assert len({_worker(c) for c in clients}) == 2
        statuses: Counter[int] = Counter()
        started = time.monotonic()
        for _ in range(8):
            for client in clients:
                statuses[client.get("/m/raw_lookup", params=query, headers=auth).status_code] += 1
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    assert set(statuses) == {200, 429}, statuses
    assert statuses[200] >= 10
    assert statuses[200] <= 10 + 10 * elapsed + 1, (statuses, elapsed)


def test_shared_buckets_are_one_bucket(tmp_path: Path) -> None:
    """Two limiters on one file (as two workers hold it) draw from the same bucket."""
    first, second = SharedRateLimiter(tmp_path / "rates"), SharedRateLimiter(tmp_path / "rates")
    try:
        assert first.allow("k", 60) is None
        wait = second.allow("k", 60)
        assert wait is not None and 0 < wait <= 1.0
        assert second.allow("other", 60) is None
    finally:
        first.close()
        second.close()


def test_many_keys_reuse_buckets_that_filled_up(tmp_path: Path) -> None:
    """More keys than slots: a bucket that has filled up again is as good as free, so new keys
    find room and an active key keeps its count."""
    limiter = SharedRateLimiter(tmp_path / "rates")
    try:
        assert limiter.allow("busy", 1) is None  # empty for a minute
        for n in range(20_000):
            limiter.allow(f"key-{n}", 6_000_000)  # full again within microseconds
        assert limiter.allow("busy", 1) is not None
    finally:
        limiter.close()


def test_the_node_directory_is_removed_at_stop(tmp_path: Path) -> None:
    location = str(tmp_path / "bank.db")
    create_bank(location).close()
    log = tmp_path / "serve.log"
    with _serving(location, log, TMPDIR=str(tmp_path)) as (process, _):
        (node_dir,) = tmp_path.glob("hashwarden-node-*")
        assert (node_dir / "metrics").is_dir() and (node_dir / "rate-limits").is_file()
        assert node_dir.stat().st_mode & 0o077 == 0  # private to its owner
    assert process.returncode == 0, log.read_text()
    assert list(tmp_path.glob("hashwarden-node-*")) == []


def test_a_killed_worker_is_replaced_and_no_connection_is_refused(tmp_path: Path) -> None:
    location = str(tmp_path / "bank.db")
    create_bank(location).close()
    with _serving(location, tmp_path / "serve.log") as (_, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            killed = int(client.get("/v1/status").json()["worker"])
        os.kill(killed, signal.SIGKILL)
        answered: Counter[int] = Counter()
        deadline = time.monotonic() + 120
        while len(answered) < 2:  # until the replacement answers too
            assert time.monotonic() < deadline, answered
            with httpx.Client(base_url=url, timeout=30) as client:
                answer = client.get("/v1/status")
            assert answer.status_code == 200
            answered[int(answer.json()["worker"])] += 1
        assert killed not in answered


def test_an_address_in_use_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    location = str(tmp_path / "bank.db")
    create_bank(location).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [
                *(sys.executable, "-m", "hashwarden", "serve", "--bank", location),
                *("--port", str(port), "--workers", "2"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 2, run.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
