"""Two nodes on loopback converge through published bundles, across a cut connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.cli import app
from hashwarden.errors import ExchangeUnavailableError, IntegrityError, LimitExceededError
from hashwarden.exchange.bundle import add_trusted_key, generate_keys, key_origins
from hashwarden.exchange.sync import publish, pull
from hashwarden.signals import Signal

CUT: set[str] = set()  # file names the server breaks off once
TRICKLE: set[str] = set()  # file names the server sends a byte at a time, slowly


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if name in TRICKLE:
            self._trickle(Path(self.directory) / self.path.lstrip("/"))
            return
        if name in CUT:
            CUT.discard(name)
            data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()

    def _trickle(self, path: Path) -> None:
        """A byte every 50 ms, at most 100 of them (a bounded loop), then the line drops."""
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for byte in data[:100]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        httpd.server_close()


def _e(n: int, category: str = "csam-b") -> NewEntry:
    return NewEntry([Signal("md5", f"{n:032x}")], category, f"s{n}", source="org")


def _state(bank: Bank) -> set[tuple[object, ...]]:
    return {(tuple(sorted(e.signals)), e.category, e.series, e.note) for e in bank.entries.all()}


def test_two_nodes_converge_through_a_cut(tmp_path: Path, server: str) -> None:
    www = tmp_path / "www"
    generate_keys("a", tmp_path)
    generate_keys("b", tmp_path)
    a = create_bank(tmp_path / "a.db")
    b = create_bank(tmp_path / "b.db")
    ids_a = a.entries.add_many([_e(1), _e(2), _e(3)]).added
    ids_b = b.entries.add_many([_e(11), _e(12)]).added
    assert publish(a, tmp_path / "a.key", www / "a") is not None
    assert publish(b, tmp_path / "b.key", www / "b") is not None
    assert pull(b, f"{server}/a", tmp_path / "a.pub") == 1
    assert pull(a, f"{server}/b", tmp_path / "b.pub") == 1
    assert _state(a) == _state(b) and len(_state(a)) == 5

    a.entries.update(ids_a[0], category="csam-a", note="regraded by a")
    a.entries.remove(ids_a[1])
    second = publish(a, tmp_path / "a.key", www / "a")
    b.entries.update(ids_b[0], note="seen again by b")
    b.entries.remove(ids_b[1])
    b.entries.add(_e(13))
    publish(b, tmp_path / "b.key", www / "b")

    assert second is not None
    CUT.add(second.name)
    before = _state(b)
    with pytest.raises(ExchangeUnavailableError, match="run again to resume"):
        pull(b, f"{server}/a", tmp_path / "a.pub")
    assert _state(b) == before  # nothing half-applied
    assert pull(b, f"{server}/a", tmp_path / "a.pub") == 1  # resumed
    assert pull(a, f"{server}/b", tmp_path / "b.pub") == 1
    assert _state(a) == _state(b)
    assert len(_state(a)) == 4 and (
        (Signal("md5", f"{1:032x}"),),
        "csam-a",
        "s1",
        "regraded by a",
    ) in _state(a)
    # Idempotent, and no echo: republishing sends nothing that was received.
    assert pull(b, f"{server}/a", tmp_path / "a.pub") == 0
    assert publish(b, tmp_path / "b.key", www / "b") is None
    assert a.verify().ok and b.verify().ok


def test_sync_cli(tmp_path: Path, server: str, cli_runner: CliRunner) -> None:
    generate_keys("a", tmp_path)
    for name in ("a.db", "b.db"):
        create_bank(tmp_path / name).close()
    with open_bank(tmp_path / "a.db") as a:
        a.entries.add(_e(5))
    r = cli_runner.invoke(
        app,
        [
            "sync",
            "publish",
            str(tmp_path / "a.db"),
            "--sign",
            str(tmp_path / "a.key"),
            "--dir",
            str(tmp_path / "www" / "a"),
        ],
    )
    assert r.exit_code == 0 and "published" in r.output
    pull_args = ["sync", "pull", str(tmp_path / "b.db"), "--key", str(tmp_path / "a.pub")]
    r = cli_runner.invoke(app, [*pull_args, "--from", f"{server}/a"])
    assert r.exit_code == 0 and "1 bundle(s) applied" in r.output, r.output
    r = cli_runner.invoke(app, [*pull_args, "--from", f"{server}/a"])
    assert r.exit_code == 0 and "already up to date" in r.output
    r = cli_runner.invoke(app, [*pull_args, "--from", "ftp://example"])
    assert r.exit_code == 2
    r = cli_runner.invoke(app, [*pull_args, "--from", f"{server}/nowhere"])
    assert r.exit_code == 8 and "run again" in r.output


def _published(tmp_path: Path, count: int = 3) -> tuple[Bank, Path]:
    """Bank A with `count` entries, published under www/a, and keys a and c."""
    generate_keys("a", tmp_path)
    generate_keys("c", tmp_path)
    a = create_bank(tmp_path / "a.db")
    a.entries.add_many([_e(n) for n in range(1, count + 1)])
    written = publish(a, tmp_path / "a.key", tmp_path / "www" / "a")
    assert written is not None
    return a, written


def test_pull_pins_the_key_it_names(tmp_path: Path, server: str) -> None:
    _, written = _published(tmp_path)
    b = create_bank(tmp_path / "b.db")
    url = f"{server}/a"
    # The bank does not trust the signer yet: refused, and the wrong key is not trusted.
    with pytest.raises(IntegrityError, match="--key") as refused:
        pull(b, url, tmp_path / "c.pub")
    assert f"{url}/{written.name}" in str(refused.value) and "tmp" not in str(refused.value)
    assert b.trust.all_keys() == [] and b.stats().entries == 0
    # The bank trusts the real signer: a pull naming another key is still refused.
    add_trusted_key(b, tmp_path / "a.pub")
    before = (b.fingerprint(), b.trust.all_keys())
    with pytest.raises(IntegrityError, match="--key"):
        pull(b, url, tmp_path / "c.pub")
    assert (b.fingerprint(), b.trust.all_keys()) == before


def test_a_key_is_trusted_only_after_a_verified_pull(tmp_path: Path, server: str) -> None:
    a, _ = _published(tmp_path)
    b = create_bank(tmp_path / "b.db")
    CUT.add("index.json")
    with pytest.raises(ExchangeUnavailableError):
        pull(b, f"{server}/a", tmp_path / "a.pub")
    assert b.trust.all_keys() == []  # a failed pull trusts nothing
    assert pull(b, f"{server}/a", tmp_path / "a.pub") == 1
    assert [k[0] for k in b.trust.all_keys()] == ["a"]
    assert key_origins(b) == {"a": [a.bank_id]}
    assert b.stats().entries == 3 and b.verify().ok


def test_pull_caps_body_sizes(tmp_path: Path, server: str) -> None:
    _, written = _published(tmp_path, count=50)
    b = create_bank(tmp_path / "b.db")
    url = f"{server}/a"
    with pytest.raises(LimitExceededError, match="max-bundle-bytes") as refused:
        pull(b, url, tmp_path / "a.pub", max_bundle_bytes=1000)
    assert f"{url}/{written.name}" in str(refused.value)
    with pytest.raises(LimitExceededError, match="max-index-bytes"):
        pull(b, url, tmp_path / "a.pub", max_index_bytes=50)
    assert b.stats().entries == 0 and b.trust.all_keys() == []


def test_pull_stops_a_trickling_bundle_at_the_deadline(tmp_path: Path, server: str) -> None:
    _, written = _published(tmp_path)
    b = create_bank(tmp_path / "b.db")
    TRICKLE.add(written.name)
    try:
        with pytest.raises(LimitExceededError, match="deadline") as stopped:
            pull(b, f"{server}/a", tmp_path / "a.pub", deadline=1.0)
    finally:
        TRICKLE.discard(written.name)
    assert written.name in str(stopped.value)
    assert b.stats().entries == 0 and b.trust.all_keys() == []


def test_sync_pull_cli_limits_and_key(tmp_path: Path, server: str, cli_runner: CliRunner) -> None:
    _published(tmp_path, count=50)
    create_bank(tmp_path / "b.db").close()
    base = ["sync", "pull", str(tmp_path / "b.db"), "--from", f"{server}/a"]
    r = cli_runner.invoke(
        app, [*base, "--key", str(tmp_path / "a.pub"), "--max-bundle-bytes", "1000"]
    )
    assert r.exit_code == 11 and "max-bundle-bytes" in r.output and "Traceback" not in r.output
    r = cli_runner.invoke(app, [*base, "--key", str(tmp_path / "c.pub")])
    assert r.exit_code == 5 and "--key" in r.output
    r = cli_runner.invoke(app, ["keys", "list", str(tmp_path / "b.db")])
    assert "no trusted keys" in r.output
    r = cli_runner.invoke(app, [*base, "--key", str(tmp_path / "a.pub"), "--deadline", "60"])
    assert r.exit_code == 0 and "1 bundle(s) applied" in r.output, r.output
