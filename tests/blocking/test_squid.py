"""The Squid helper behind a real Squid (Debian's package) on loopback.

Squid refuses to run as root and starts its helpers as its own user (`proxy`), who cannot run
an interpreter kept under root's home; the helper is therefore started through Debian's
`/usr/bin/python3`, with a copy of the hashwarden package under test (not whatever an editable
install points at) and this virtual environment's packages for the rest. Where `proxy` cannot
read those, the packages the helper imports are linked (or copied) into a folder it can read.
Only a machine without Squid, root or Debian's python3 skips; a helper that fails is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import hashwarden
from hashwarden.blocking.counts import BlockCounts, month_summary

from ._dns import LOOPBACK, free_port
from .test_engines import LISTED, PREFIX_HOST, applied

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

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


def _environment_missing() -> str | None:
    """What this machine lacks to run Squid and its helper at all, or None."""
    if SQUID is None:
        return "squid is not installed (deps/apt.txt installs it for `make test`)"
    if os.geteuid() != 0 or not SYSTEM_PYTHON.exists() or shutil.which("runuser") is None:
        return "needs root, runuser and Debian's python3 to start Squid and its helper"
    return None


def _as_proxy(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [shutil.which("runuser") or "runuser", "-u", "proxy", "--", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )


def _proxy_import_error(lib: Path, site_dir: Path) -> str | None:
    """Why `proxy` cannot import the helper's modules from `lib` and `site_dir`, or None."""
    check = _as_proxy(
        [
            str(SYSTEM_PYTHON),
            "-c",
            f"import site, sys; sys.path.insert(0, {str(lib)!r}); site.addsitedir("
            f"{str(site_dir)!r}); import hashwarden.cli",
        ]
    )
    return None if check.returncode == 0 else check.stderr.decode(errors="replace")[-600:]


def _link_or_copy(source: str, target: str) -> None:
    """A hard link when the file is readable by anyone already (a link shares the mode, which
    is never changed here), else a copy made readable."""
    if os.stat(source).st_mode & stat.S_IROTH:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(source, target)
    os.chmod(target, os.stat(target).st_mode | 0o444)


def _readable_site_packages(folder: Path, site_dir: Path) -> Path:
    """The entries of `site_dir` that the helper imports (plus shared-library folders and
    metadata), hard-linked where possible into `folder`, readable by `proxy`."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, hashwarden.cli\n"
            "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    needed = set()
    for name in json.loads(probe.stdout):
        if name and Path(name).is_relative_to(site_dir):
            needed.add(Path(name).relative_to(site_dir).parts[0])
    needed |= {p.name for p in site_dir.iterdir() if p.name.endswith((".libs", ".dist-info"))}
    target = folder / "site-packages"
    target.mkdir()
    for name in sorted(needed - {"hashwarden"}):
        if (site_dir / name).is_dir():
            shutil.copytree(site_dir / name, target / name, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(site_dir / name), str(target / name))
    for folder_path in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        folder_path.chmod(folder_path.stat().st_mode | 0o555)  # new folders, not linked
    return target


def _helper_wrapper(folder: Path) -> Path:
    """An executable the `proxy` user can run: Debian's python3, a copy of the hashwarden
    package under test, and the packages it needs."""
    lib = folder / "lib"
    shutil.copytree(
        Path(hashwarden.__file__).parent,
        lib / "hashwarden",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    site_dir = Path(sysconfig.get_paths()["purelib"])
    if _proxy_import_error(lib, site_dir) is not None:
        site_dir = _readable_site_packages(folder, site_dir)
        error = _proxy_import_error(lib, site_dir)
        if error is not None:
            pytest.fail(f"the proxy user cannot import the helper even from {site_dir}: {error}")
    wrapper = folder / "hashwarden-squid-helper"
    wrapper.write_text(
        f"#!{SYSTEM_PYTHON}\nimport site, sys\nsys.path.insert(0, {str(lib)!r})\n"
        f"site.addsitedir({str(site_dir)!r})\n"
        "from hashwarden.cli import main\n"
        "sys.argv[0] = 'hashwarden'\nsys.argv[1:1] = ['blocklist', 'squid-helper']\nmain()\n"
    )
    wrapper.chmod(0o755)
    return wrapper


def _check_helper_as_proxy(wrapper: Path, applied: Path) -> None:
    """The helper, run as `proxy`, answers a blank line, bytes that are not UTF-8 and a bare
    channel ID, in order; a failure here is the helper's, so the test fails (never skips)."""
    probe = _as_proxy(
        [str(wrapper), str(applied)], b"0 http://ok.example/\xff\n\n1 \n2 http://ok.example/\n"
    )
    answers = probe.stdout.decode(errors="replace").splitlines()
    expected = ["0 ERR", 'BH message="empty request"', '1 BH message="empty request"', "2 ERR"]
    if probe.returncode != 0 or answers != expected:
        pytest.fail(
            f"the helper, run as proxy, answered {answers} (exit {probe.returncode}), "
            f"not {expected}: {probe.stderr.decode(errors='replace')[-600:]}"
        )


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
    missing = _environment_missing()
    if missing is not None:
        pytest.skip(missing)
    wrapper = _helper_wrapper(folder)
    _check_helper_as_proxy(wrapper, shared)
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
