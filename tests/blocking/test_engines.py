"""The ISP-side engines on the hashed list: DNS front, Squid helper, stop page, counts; and
the promise that nothing they write holds a listed name in clear."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import dns.message
import dns.rcode
import dns.rrset
import httpx
import pytest
from typer.testing import CliRunner

from hashwarden.bank import create_bank, open_bank
from hashwarden.blocking.applied import AppliedList, Matcher
from hashwarden.blocking.counts import BlockCounts, month_summary
from hashwarden.blocking.hashed import apply_update, build_update
from hashwarden.blocking.resolver import DnsFront, FrontPolicy, serve_front
from hashwarden.blocking.squid import SquidHelper
from hashwarden.blocking.stoppage import StopPage, choose_language, serve_stop_page
from hashwarden.blocking.store import BlockList
from hashwarden.cli import app
from hashwarden.errors import UsageError
from hashwarden.exchange.bundle import generate_keys

from ._dns import LOOPBACK, answers, ask, free_port, rcode, wait_ready
from ._unbound import running_unbound, unbound_bin, unbound_conf

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

__all__ = ["unbound_bin"]  # a fixture

HELPER = [sys.executable, "-m", "hashwarden", "blocklist", "squid-helper"]
LISTED = "listed-site.example"  # must never appear in clear outside the curator's store
PREFIX_HOST = "mixed-host.example"


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    """A curator's list exported hashed and applied on the 'ISP' side."""
    private, public = generate_keys("curator", tmp_path)
    with BlockList.create(tmp_path / "list.db") as s:
        s.add("domain", LISTED)
        s.add("prefix", f"{PREFIX_HOST}/bad/")
        update = tmp_path / "update.json"
        update.write_text(json.dumps(build_update(s, private)))
    isp = tmp_path / "isp"
    apply_update(isp / "applied.json", update, trust=public)
    return isp / "applied.json"


class FakeUpstream:
    """A recursive resolver stand-in on loopback: ok.test and stop.test exist, nothing else."""

    RECORDS: ClassVar[dict[str, str]] = {
        "ok.test.": "127.0.0.2",
        "stop.test.": "127.0.0.53",
        f"{PREFIX_HOST}.": "127.0.0.4",
    }

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.asked: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text()
            self.asked.append(name)
            response = dns.message.make_response(query)
            if name in self.RECORDS:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", self.RECORDS[name]))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    yield server
    server.close()


def _run_front(front: DnsFront, queries: list[tuple[str, str]]) -> list[dns.message.Message]:
    port = free_port()
    server = serve_front(front, LOOPBACK, port, max_requests=len(queries))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return [ask(port, name, rdtype) for name, rdtype in queries]
    finally:
        thread.join(timeout=10)
        server.server_close()


def test_dns_front_redirects_listed_names_and_forwards_the_rest(
    applied: Path, upstream: FakeUpstream, tmp_path: Path
) -> None:
    counts = BlockCounts(tmp_path / "counts.db")
    front = DnsFront(
        AppliedList.load(applied).matcher(),
        (LOOPBACK, upstream.port),
        FrontPolicy("stop.test"),
        counts=counts,
    )
    listed, sub, ok, missing, prefix_host = _run_front(
        front,
        [
            (LISTED, "A"),
            (f"a.b.{LISTED}", "A"),
            ("ok.test", "A"),
            ("nothing.test", "A"),
            (PREFIX_HOST, "A"),
        ],
    )
    assert answers(listed) == {"CNAME": ["stop.test."], "A": ["127.0.0.53"]}
    assert answers(sub) == {"CNAME": ["stop.test."], "A": ["127.0.0.53"]}
    assert answers(ok) == {"A": ["127.0.0.2"]}
    assert rcode(missing) == "NXDOMAIN"
    assert answers(prefix_host) == {"A": ["127.0.0.4"]}  # a path entry does not block DNS
    # listed names never reach the upstream; only the stop host is looked up there
    assert not any(LISTED in name for name in upstream.asked)
    counts.close()
    with BlockCounts(tmp_path / "counts.db") as c:
        summary = month_summary(c)
    assert summary.total == 2 and len(summary.by_entry) == 1


def test_dns_front_nxdomain_and_own_stop_address(applied: Path, upstream: FakeUpstream) -> None:
    matcher = AppliedList.load(applied).matcher()
    nx = DnsFront(matcher, (LOOPBACK, upstream.port), FrontPolicy(None))
    (gone,) = _run_front(nx, [(f"www.{LISTED}", "A")])
    assert rcode(gone) == "NXDOMAIN" and not gone.answer
    own = DnsFront(
        matcher,
        (LOOPBACK, upstream.port),
        FrontPolicy("stop.isp.test", ("192.0.2.1", "2001:db8::1")),
    )
    a, aaaa, mx = _run_front(own, [(LISTED, "A"), (LISTED, "AAAA"), (LISTED, "MX")])
    assert answers(a) == {"CNAME": ["stop.isp.test."], "A": ["192.0.2.1"]}
    assert answers(aaaa) == {"CNAME": ["stop.isp.test."], "AAAA": ["2001:db8::1"]}
    assert answers(mx) == {"CNAME": ["stop.isp.test."]}
    assert upstream.asked == []


def test_squid_helper_protocol_over_stdin(applied: Path, tmp_path: Path) -> None:
    """Speak to `hashwarden blocklist squid-helper` as Squid does, with and without channels."""
    lines = [
        f"0 http://{PREFIX_HOST}/bad/x.jpg 192.0.2.9/- - GET myip=127.0.0.1 myport=3128",
        f"1 http://{PREFIX_HOST}/good/x.jpg 192.0.2.9/- - GET",
        f"2 {LISTED}:443 192.0.2.9/- - CONNECT",
        "3 http://ok.example/",
        "",
    ]
    counts = tmp_path / "squid-counts.db"
    run = subprocess.run(
        [*HELPER, str(applied), "--counts", str(counts)],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["0 OK", "1 ERR", "2 OK", "3 ERR"]
    with BlockCounts(counts) as c:
        assert month_summary(c).total == 2

    helper = SquidHelper(
        AppliedList.load(applied).matcher(), mode="rewrite", stop_url="http://stop.test/"
    )
    assert helper.answer(f"http://{PREFIX_HOST}/bad/") == "OK status=302 url=http://stop.test/"
    assert helper.answer("http://ok.example/") == "ERR"
    assert helper.answer("7 http://") == '7 BH message="unparsable URL"'
    with pytest.raises(UsageError):
        SquidHelper(Matcher(set(), set()), mode="rewrite")


class _HelperProcess:
    """`hashwarden blocklist squid-helper` spoken to one line at a time, as Squid does: each
    answer must arrive (flushed) before the next request is written."""

    def __init__(self, args: list[str]) -> None:
        # A strict UTF-8 stdin, as under a UTF-8 locale such as en_US.UTF-8 (Python relaxes
        # C.UTF-8, the only UTF-8 locale some images have, to surrogateescape).
        env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}
        self.proc = subprocess.Popen(
            [*HELPER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def ask(self, line: bytes) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)  # generous: a liveness check
        if not ready:
            pytest.fail(f"no answer to {line!r} within 30 s")
        answer = self.proc.stdout.readline()
        if not answer:
            stderr = self.proc.stderr.read() if self.proc.stderr else b""
            pytest.fail(f"the helper died on {line!r}: {stderr.decode(errors='replace')[-800:]}")
        return answer.decode("ascii").rstrip("\n")

    def close(self) -> tuple[int, bytes]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        return code, self.proc.stderr.read()


def test_squid_helper_answers_every_line_in_order_whatever_the_bytes(
    applied: Path, tmp_path: Path
) -> None:
    """Squid's helper protocol: exactly one answer line per request line, in order, with the
    channel ID echoed when there is one; bytes that are not UTF-8 (under a UTF-8 locale), blank
    lines and a channel ID with nothing after it are answered too, and the helper keeps going."""
    counts = tmp_path / "squid-counts.db"
    helper = _HelperProcess([str(applied), "--counts", str(counts)])
    try:
        conversation = [
            (f"0 http://{LISTED}/\xff\xfe/a 192.0.2.9/- - GET".encode("latin-1"), "0 OK"),
            (b"1 ", '1 BH message="empty request"'),
            (b"", 'BH message="empty request"'),
            (b"   ", 'BH message="empty request"'),
            (b"7 http://x/ 192.0.2.9/- - GET", "7 ERR"),
            (b"8 http://\xc3\x28.example/\x80 192.0.2.9/- - GET", "8 ERR"),
            (f"9 http://{PREFIX_HOST}/bad/\xe9t\xe9.jpg -".encode("latin-1"), "9 OK"),
            (b"10 http:// - - GET", '10 BH message="unparsable URL"'),
            (b"11", '11 BH message="empty request"'),
            (f"http://www.{LISTED}/no-channel".encode(), "OK"),
            (b"http://ok.example/ 192.0.2.9/- - GET\r", "ERR"),
            (f"12 {LISTED}:443 192.0.2.9/- - CONNECT".encode(), "12 OK"),
        ]
        answers = [helper.ask(line) for line, _ in conversation]
    finally:
        code, stderr = helper.close()
    assert answers == [expected for _, expected in conversation]
    assert code == 0, stderr
    assert b"Traceback" not in stderr
    with BlockCounts(counts) as c:
        assert month_summary(c).total == 4


def test_language_choice() -> None:
    available = ["de", "en", "sv"]
    assert choose_language("sv-SE,sv;q=0.9,en;q=0.8", available, "en") == "sv"
    assert choose_language("fr-FR, de;q=0.5, en;q=0.7", available, "en") == "en"
    assert choose_language("fr, de;q=0", available, "sv") == "sv"
    assert choose_language(None, available, "en") == "en"
    assert choose_language("de-AT;q=garbage", available, "en") == "de"  # unreadable weight: 1
    assert choose_language("de;q=0.001, sv;q=0.002", available, "en") == "sv"


def _serve_page(page: StopPage, requests: list[dict[str, str]]) -> list[httpx.Response]:
    port = free_port()
    server = serve_stop_page(page, LOOPBACK, port, max_requests=len(requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=5) as client:
            return [client.get("/any/path?q=1", headers=h) for h in requests]
    finally:
        thread.join(timeout=10)
        server.server_close()


def test_stop_page_languages_templates_and_counts(
    applied: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    counts = BlockCounts(tmp_path / "page-counts.db")
    page = StopPage(
        operator="Example ISP",
        help_line="Call 0000 <help>",
        matcher=AppliedList.load(applied).matcher(),
        counts=counts,
    )
    en, sv, de, other = _serve_page(
        page,
        [
            {"Host": f"www.{LISTED}", "Accept-Language": "en-GB"},
            {"Host": f"{LISTED}:80", "Accept-Language": "sv-SE,sv;q=0.9"},
            {"Host": "stop.test", "Accept-Language": "de"},
            {"Host": "stop.test", "Accept-Language": "fr"},
        ],
    )
    assert en.status_code == 451 and en.headers["content-language"] == "en"
    assert "This page has been blocked" in en.text and "Example ISP" in en.text
    assert "Call 0000 &lt;help&gt;" in en.text  # configured, escaped
    assert sv.headers["content-language"] == "sv" and "blockerad" in sv.text
    assert de.headers["content-language"] == "de" and "gesperrt" in de.text
    assert other.headers["content-language"] == "en"
    for response in (en, sv, de):  # self-contained: nothing fetched from anywhere
        assert "http" not in response.text.lower().replace("http-equiv", "")
        assert "<script" not in response.text and "src=" not in response.text
    counts.close()
    with BlockCounts(tmp_path / "page-counts.db") as c:
        assert month_summary(c).total == 2  # the two visits sent here for a listed name
    out, err = capfd.readouterr()
    assert "127.0.0.1" not in out + err and "/any/path" not in out + err

    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "stoppage.fi.html").write_text("<p>Estetty. $operator. $help_line $law</p>")
    finnish = StopPage(operator="ISP Oy", help_line="Apua", templates=custom)
    assert finnish.page("fi-FI")[1].decode().startswith("<p>Estetty. ISP Oy. Apua")
    assert finnish.page("sv")[0] == "sv"  # built-ins stay unless overridden


def test_nothing_the_blocking_side_writes_names_a_listed_domain(
    applied: Path, upstream: FakeUpstream, tmp_path: Path, cli_runner: CliRunner
) -> None:
    """Run every ISP-side piece with counts, then search every file they wrote (and their
    output) for the listed names in clear. The curator's own list.db is the one exception."""
    isp = applied.parent
    counts_path = isp / "counts.db"
    counts = BlockCounts(counts_path)
    matcher = AppliedList.load(applied).matcher()
    _run_front(
        DnsFront(matcher, (LOOPBACK, upstream.port), FrontPolicy("stop.test"), counts=counts),
        [(LISTED, "A"), (f"www.{LISTED}", "AAAA")],
    )
    helper = SquidHelper(matcher, counts=counts)
    list(helper.run([f"1 http://{PREFIX_HOST}/bad/a.jpg 192.0.2.1/- - GET", f"2 {LISTED}:443"]))
    _serve_page(StopPage(matcher=matcher, counts=counts), [{"Host": LISTED}])
    counts.close()
    stats = cli_runner.invoke(
        app, ["blocklist", "stats", str(applied), "--counts", str(counts_path), "--json"]
    )
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["blocked"]["total"] == 5
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "list.db"]
    assert {p.name for p in written} >= {"applied.json", "counts.db", "update.json"}
    secrets = [LISTED.encode(), PREFIX_HOST.encode(), b"listed-site", b"mixed-host"]
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"{secret!r} in clear in {path}"
    for secret in secrets:
        assert secret.decode() not in stats.output
    # the curator's own store does hold them (and is the only place that may)
    assert LISTED.encode() in (tmp_path / "list.db").read_bytes()


def test_cli_dns_front_before_a_real_unbound(
    applied: Path, unbound_bin: str, tmp_path: Path
) -> None:
    """`hashwarden blocklist resolver` holding only the hashed list, in front of a real Unbound:
    listed names (and subdomains) get the stop host as Unbound resolves it, the rest Unbound's
    own answers; the counts file holds digests only."""
    unbound_port, front_port = free_port(), free_port()
    conf = unbound_conf(tmp_path, unbound_port, {})
    counts = tmp_path / "front-counts.db"
    queries = [(LISTED, "A"), (f"www.{LISTED}", "A"), ("ok.test", "A"), ("nothing.test", "A")]
    with running_unbound(unbound_bin, conf, unbound_port):
        front = subprocess.Popen(
            [
                *("hashwarden", "blocklist", "resolver", str(applied)),
                *("--upstream", f"{LOOPBACK}:{unbound_port}"),
                *("--listen", f"{LOOPBACK}:{front_port}"),
                *("--stop-host", "stop.test", "--counts", str(counts)),
                *("--max-requests", str(len(queries) + 1)),
            ],
            executable=Path(sys.executable).with_name("hashwarden"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_ready(front_port, "ok.test")  # the first request
            listed, sub, ok, missing = (ask(front_port, n, t) for n, t in queries)
            assert front.wait(timeout=20) == 0
        finally:
            if front.poll() is None:
                front.kill()
                front.wait()
    assert answers(listed) == {"CNAME": ["stop.test."], "A": ["127.0.0.53"]}
    assert answers(sub) == {"CNAME": ["stop.test."], "A": ["127.0.0.53"]}
    assert answers(ok) == {"A": ["127.0.0.2"]}
    assert rcode(missing) == "NXDOMAIN"
    output = b"".join(stream.read() for stream in (front.stdout, front.stderr) if stream)
    assert LISTED.encode() not in output
    data = counts.read_bytes()
    assert LISTED.encode() not in data
    with BlockCounts(counts) as c:
        assert month_summary(c).total == 2


def test_record_stats_adds_finished_days_once(tmp_path: Path, cli_runner: CliRunner) -> None:
    """Blocked attempts reach the bank's statistics as one event a finished day, only once."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    counts_path = tmp_path / "counts.db"
    with BlockCounts(counts_path) as counts:
        counts.record(b"\x01" * 32)  # today: not finished, not recorded yet
    today = datetime.now(UTC).date()
    past = [(today - timedelta(days=d)).isoformat() for d in (2, 1)]
    with sqlite3.connect(counts_path) as conn:
        conn.executemany(
            "INSERT INTO blocked(day, entry, n) VALUES (?, ?, ?)",
            [(past[0], "aa" * 32, 5), (past[0], "bb" * 32, 2), (past[1], "aa" * 32, 3)],
        )
    bank_path = tmp_path / "bank.db"
    create_bank(bank_path).close()
    args = ["blocklist", "record-stats", str(counts_path), "--bank", str(bank_path)]
    first = cli_runner.invoke(app, [*args, "--region", "SE"])
    assert first.exit_code == 0, first.output
    assert "recorded 10 blocked attempts over 2 day(s)" in first.output
    again = cli_runner.invoke(app, args)
    assert "recorded 0 blocked attempts over 0 day(s)" in again.output
    with open_bank(bank_path, readonly=True) as bank:
        events = bank.events.between("2000-01-01", "2100-01-01")
    assert sorted((row[0][:10], row[-1]) for row in events) == [(past[0], 7), (past[1], 3)]
    assert all("isp_block" in row and "SE" in row for row in events)
