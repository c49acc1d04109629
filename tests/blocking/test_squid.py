"""The Squid helper behind a real Squid (Debian's package) on loopback.

Squid refuses to run as root and starts its helpers as its own user (`proxy`), who cannot run
an interpreter kept under root's home; the helper is therefore started through Debian's
`/usr/bin/python3` with this virtual environment's packages added. Where the `proxy` user
cannot read those, the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from hashwarden.blocking.counts import BlockCounts, month_summary

from ._dns import LOOPBACK, free_port
from .test_engines import LISTED, PREFIX_HOST, applied

__all__ = ["applied"]  # a fixture

SQUID = shutil.which("squid") or ("/usr/sbin/squid" if Path("/usr/sbin/squid").exists() else None)
SYSTEM_PYTHON = Path("/usr/bin/python3")


class _Origin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"origin page"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """pytest's tmp_path is private to root; Squid's user must read and write here."""
    folder = Path(tempfile.mkdtemp(prefix="hashwarden-squid-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _helper_wrapper(folder: Path) -> Path:
    """An executable the `proxy` user can run: system Python plus this venv's packages."""
    wrapper = folder / "hashwarden-squid-helper"
    site = sysconfig.get_paths()["purelib"]
    wrapper.write_text(
        f"#!{SYSTEM_PYTHON}\nimport site, sys\nsite.addsitedir({site!r})\n"
        "from hashwarden.cli import main\n"
        "sys.argv[0] = 'hashwarden'\nsys.argv[1:1] = ['blocklist', 'squid-helper']\nmain()\n"
    )
    wrapper.chmod(0o755)
    return wrapper


def _usable_by_proxy(wrapper: Path, applied: Path) -> str | None:
    """Why the proxy user cannot run the helper, or None when it can."""
    if SQUID is None:
        return "squid is not installed (deps/apt.txt installs it for `make test`)"
    if os.geteuid() != 0 or not SYSTEM_PYTHON.exists() or shutil.which("runuser") is None:
        return "needs root, runuser and Debian's python3 to start Squid and its helper"
    probe = subprocess.run(
        ["runuser", "-u", "proxy", "--", str(wrapper), str(applied)],
        input="0 http://ok.example/\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.stdout.strip() != "0 ERR":
        return f"the proxy user cannot run the helper from here: {probe.stderr[-300:]}"
    return None


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"squid exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail("squid did not listen in 30 s")


def test_real_squid_denies_listed_urls_with_the_stop_page(
    applied: Path, world_readable_dir: Path
) -> None:
    folder = world_readable_dir
    shared = folder / "applied.json"
    shutil.copy(applied, shared)
    shared.chmod(0o644)
    wrapper = _helper_wrapper(folder)
    reason = _usable_by_proxy(wrapper, shared)
    if reason is not None:
        pytest.skip(reason)
    counts = folder / "counts.db"
    origin = ThreadingHTTPServer((LOOPBACK, 0), _Origin)
    origin_port = origin.server_address[1]
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    port = free_port()
    conf = folder / "squid.conf"
    conf.write_text(
        f"""http_port {LOOPBACK}:{port}
pid_filename {folder}/squid.pid
cache_log {folder}/cache.log
access_log none
cache deny all
cache_mem 8 MB
coredump_dir {folder}
cache_effective_user proxy
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
external_acl_type hashwarden ttl=0 negative_ttl=0 concurrency=10 children-max=1 \
children-startup=1 %URI {wrapper} {shared} --counts {counts}
acl hashwarden_blocked external hashwarden
deny_info http://stop.test/ hashwarden_blocked
http_access deny hashwarden_blocked
http_access allow localhost
http_access deny all
"""
    )
    proc = subprocess.Popen(
        # -n: a service name of its own, so its shared-memory segments clash with no other Squid
        [str(SQUID), "-N", "-n", f"hashwarden{port}", "-f", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, folder / "cache.log")
        with httpx.Client(proxy=f"http://{LOOPBACK}:{port}", timeout=30) as client:
            prefix = client.get(f"http://{PREFIX_HOST}/bad/photo.jpg")
            domain = client.get(f"http://www.{LISTED}/any/page")
            allowed = client.get(f"http://{LOOPBACK}:{origin_port}/fine")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        origin.shutdown()
        origin.server_close()
    assert prefix.status_code == 302 and prefix.headers["location"] == "http://stop.test/"
    assert domain.status_code == 302
    assert allowed.status_code == 200 and allowed.text == "origin page"
    with BlockCounts(counts) as c:
        assert month_summary(c).total == 2
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "cache.log":
            assert LISTED.encode() not in path.read_bytes(), path
