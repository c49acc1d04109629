"""The DNS front, the stop page and the Squid helper keep their blocked-attempt counts when
stopped as systemd and Docker stop them (SIGTERM), and write them at an interval while they
serve, so a crash loses at most one interval's counts."""

from __future__ import annotations

import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import httpx
import pytest

from hashwarden.blocking.counts import BlockCounts
from hashwarden.errors import DataError, UsageError

from ._dns import LOOPBACK, ask, free_port
from .test_engines import LISTED, FakeUpstream, applied, upstream

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

__all__ = ["applied", "upstream"]  # fixtures

HASHWARDEN = [sys.executable, "-m", "hashwarden"]
DEADLINE_S = 30.0  # generous: these wait for a process, they measure nothing


@dataclass
class _Running:
    """One server started as a subprocess on loopback, and how to make it count a visit."""

    proc: subprocess.Popen[bytes]
    counts: Path
    blocked: Callable[[], None]

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then its exit code and error output."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"did not stop within {DEADLINE_S} s of SIGTERM")
        stderr = self.proc.stderr.read() if self.proc.stderr else b""
        return code, stderr.decode(errors="replace")


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*HASHWARDEN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not ready():
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"the server exited ({proc.returncode}) before {what}: {stderr[-800:]}")
        if time.monotonic() > end:
            pytest.fail(f"no {what} within {DEADLINE_S} s")
        time.sleep(0.1)


def _dns_front(applied: Path, upstream: FakeUpstream, counts: Path, flush_every: str) -> _Running:
    port = free_port()
    proc = _start(
        [
            *("blocklist", "resolver", str(applied)),
            *("--upstream", f"{LOOPBACK}:{upstream.port}", "--listen", f"{LOOPBACK}:{port}"),
            *("--stop-host", "stop.test", "--counts", str(counts)),
            *("--flush-every", flush_every),
        ]
    )

    def answers() -> bool:
        try:
            ask(port, "ok.test", timeout=0.5)
            return True
        except (OSError, dns.exception.Timeout):
            return False

    try:
        _until(answers, proc, "answer from the DNS front")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return _Running(proc, counts, lambda: ask(port, f"www.{LISTED}", timeout=5.0) and None)


def _stop_page(applied: Path, counts: Path, flush_every: str) -> _Running:
    port = free_port()
    proc = _start(
        [
            *("stoppage", "--listen", f"{LOOPBACK}:{port}"),
            *("--list", str(applied), "--counts", str(counts), "--flush-every", flush_every),
        ]
    )
    client = httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=5)

    def answers() -> bool:
        try:
            return client.get("/", headers={"Host": "stop.test"}).status_code == 451
        except httpx.TransportError:
            return False

    try:
        _until(answers, proc, "answer from the stop page")
    except BaseException:
        proc.kill()
        proc.wait()
        raise

    def visit() -> None:
        assert client.get("/x", headers={"Host": LISTED}).status_code == 451

    return _Running(proc, counts, visit)


def _squid_helper(applied: Path, counts: Path, flush_every: str) -> _Running:
    proc = subprocess.Popen(
        [
            *(*HASHWARDEN, "blocklist", "squid-helper", str(applied)),
            *("--counts", str(counts), "--flush-every", flush_every),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def ask_blocked() -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"3 http://www.{LISTED}/a 192.0.2.9/- - GET\n".encode())
        proc.stdin.flush()
        if not select.select([proc.stdout], [], [], DEADLINE_S)[0]:
            pytest.fail(f"the helper did not answer within {DEADLINE_S} s")
        assert proc.stdout.readline() == b"3 OK\n"

    return _Running(proc, counts, ask_blocked)


@pytest.fixture(params=["resolver", "stoppage", "squid-helper"])
def start(
    request: pytest.FixtureRequest, applied: Path, upstream: FakeUpstream, tmp_path: Path
) -> Iterator[Callable[[str], _Running]]:
    """Starts one of them with a given --flush-every; stops it after."""
    started: list[_Running] = []

    def run(flush_every: str) -> _Running:
        counts = tmp_path / f"{request.param}-counts.db"
        if request.param == "resolver":
            server = _dns_front(applied, upstream, counts, flush_every)
        elif request.param == "stoppage":
            server = _stop_page(applied, counts, flush_every)
        else:
            server = _squid_helper(applied, counts, flush_every)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def _written(counts: Path) -> int:
    """Blocked attempts in the counts file as another process sees it now."""
    with sqlite3.connect(f"file:{counts}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT coalesce(sum(n), 0) FROM blocked").fetchone()[0])


def test_sigterm_stops_cleanly_and_keeps_the_counts(start: Callable[[str], _Running]) -> None:
    server = start("3600")  # no interval flush during the test: only the stop can write
    for _ in range(3):
        server.blocked()
    code, stderr = server.stop()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert _written(server.counts) == 3


def test_counts_are_written_at_the_interval_while_serving(
    start: Callable[[str], _Running],
) -> None:
    server = start("0.2")
    for _ in range(3):
        server.blocked()
    # No further requests: only the interval can write these while the server runs.
    _until(lambda: _written(server.counts) == 3, server.proc, "counts written")
    assert server.proc.poll() is None
    code, stderr = server.stop()
    assert code == 0, stderr
    assert _written(server.counts) == 3  # written once, not again on the stop


def test_a_write_that_fails_keeps_the_counts(tmp_path: Path) -> None:
    """The counts file locked by another process (say `record-stats`) beyond SQLite's wait:
    the write fails with a clear DataError and the counts stay for the next write."""
    path = tmp_path / "counts.db"
    counts = BlockCounts(path)
    counts.record(b"\x01" * 32)
    counts.record(b"\x01" * 32)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DataError, match="kept in memory"):
            counts.flush()
    finally:
        other.execute("ROLLBACK")
        other.close()
    counts.record(b"\x01" * 32)
    counts.close()
    assert _written(path) == 3


def test_flush_every_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        BlockCounts(tmp_path / "counts.db", flush_every=0)
