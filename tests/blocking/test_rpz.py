"""RPZ export: zone contents, moving serials, the IXFR delta, and a real Unbound loading it."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.zone
import pytest
from typer.testing import CliRunner

from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone
from hashwarden.blocking.store import BlockList
from hashwarden.cli import app
from hashwarden.errors import UsageError

from ._dns import LOOPBACK, answers, ask, free_port, rcode, wait_ready

STOP = "stop.test"


def _records(zone_text: str, origin: str = "rpz.hashwarden.") -> set[str]:
    zone = dns.zone.from_text(zone_text, origin=origin, relativize=True)
    return {
        f"{name} {rdata.rdtype.name} {rdata}"
        for name, rdataset in zone.iterate_rdatasets()
        for rdata in rdataset
        if rdataset.rdtype.name == "CNAME"
    }


def _serial(zone_text: str) -> int:
    zone = dns.zone.from_text(zone_text, origin="rpz.hashwarden.", relativize=True)
    return int(zone.find_rdataset("@", "SOA")[0].serial)


def _apply_ixfr(old: set[str], delta: str) -> set[str]:
    """Apply an RFC 1995 difference sequence (one step) to a set of CNAME records."""
    lines = [ln for ln in delta.splitlines() if ln and not ln.startswith((";", "$"))]
    soas = [i for i, ln in enumerate(lines) if " SOA " in ln]
    assert len(soas) == 4, "new SOA, old SOA, deletions, new SOA, additions, new SOA"

    def parse(chunk: list[str]) -> set[str]:
        return _records("\n".join(["$TTL 300", "@ SOA a. b. 1 1 1 1 1", "@ NS a.", *chunk]))

    deleted = parse(lines[soas[1] + 1 : soas[2]])
    added = parse(lines[soas[2] + 1 : soas[3]])
    assert deleted <= old
    return (old - deleted) | added


def test_zone_delta_and_serial(tmp_path: Path) -> None:
    policy = RpzPolicy(stop_host=STOP)
    with BlockList.create(tmp_path / "l.db") as store:
        store.add("domain", "one.example")
        store.add("domain", "198.51.100.7")  # an IP entry: not a name, not in the zone
        store.add("prefix", "two.example/dir/")  # a path: DNS cannot see it
        first = rpz_zone(store, policy)
        assert _records(first) == {
            "one.example CNAME stop.test.",
            "*.one.example CNAME stop.test.",
        }
        store.remove("domain", "one.example")
        store.add("domain", "three.example")
        store.add("domain", "temp.example")
        store.remove("domain", "temp.example")
        second = rpz_zone(store, policy)
        assert _serial(second) > _serial(first)
        delta = rpz_delta(store, policy, since=_serial(first))
        assert _apply_ixfr(_records(first), delta) == _records(second)
        nx = rpz_zone(store, RpzPolicy())
        assert "three.example 300 IN CNAME ." in nx
    with pytest.raises(UsageError):
        RpzPolicy(stop_host="not a name")


def test_cli_rpz_export(cli_runner: CliRunner, tmp_path: Path) -> None:
    db, out = str(tmp_path / "l.db"), tmp_path / "z.rpz"
    assert cli_runner.invoke(app, ["blocklist", "add", db, "--domain", "x.example"]).exit_code == 0
    both = cli_runner.invoke(
        app,
        [
            "blocklist",
            "export",
            db,
            "--format",
            "rpz",
            "--out",
            str(out),
            "--nxdomain",
            "--stop-host",
            STOP,
        ],
    )
    assert both.exit_code == 2
    ok = cli_runner.invoke(
        app, ["blocklist", "export", db, "--format", "rpz", "--out", str(out), "--nxdomain"]
    )
    assert ok.exit_code == 0, ok.output
    assert "*.x.example 300 IN CNAME ." in out.read_text()


# --- a real Unbound -----------------------------------------------------------------------

UNBOUND = shutil.which("unbound") or (
    "/usr/sbin/unbound" if Path("/usr/sbin/unbound").exists() else None
)


def _unbound_conf(folder: Path, port: int, zones: dict[str, Path]) -> Path:
    rpz = "".join(
        f'rpz:\n    name: "{name}"\n    zonefile: "{path}"\n    for-downstream: yes\n'
        for name, path in zones.items()
    )
    # The answers for names that are not listed come from an auth zone (test.), which the
    # iterator consults; root hints point at loopback and outgoing queries leave from
    # loopback, so nothing can ever reach the internet.
    (folder / "root.hints").write_text(
        ".  3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.1\n"
    )
    (folder / "test.zone").write_text(
        "$ORIGIN test.\n$TTL 300\n"
        "@ IN SOA localhost. hostmaster.localhost. 1 3600 600 604800 300\n@ IN NS localhost.\n"
        f"{STOP.removesuffix('.test')} IN A 127.0.0.53\nok IN A 127.0.0.2\nsub.ok IN A 127.0.0.3\n"
    )
    conf = folder / "unbound.conf"
    conf.write_text(
        f"""server:
    interface: {LOOPBACK}
    port: {port}
    outgoing-interface: {LOOPBACK}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{folder}"
    pidfile: "{folder}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip validator iterator"
    do-not-query-localhost: no
    root-hints: "{folder}/root.hints"
    local-zone: "test." nodefault
remote-control:
    control-enable: no
auth-zone:
    name: "test."
    zonefile: "{folder}/test.zone"
    for-upstream: yes
    for-downstream: no
    fallback-enabled: no
{rpz}"""
    )
    return conf


@pytest.fixture
def unbound_bin() -> str:
    if UNBOUND is None:
        pytest.skip("unbound is not installed (deps/apt.txt installs it for `make test`)")
    return UNBOUND


@pytest.fixture
def lists(tmp_path: Path) -> Iterator[tuple[BlockList, BlockList]]:
    with BlockList.create(tmp_path / "cname.db") as a, BlockList.create(tmp_path / "nx.db") as b:
        yield a, b


def test_unbound_loads_the_zone_and_redirects(
    unbound_bin: str, lists: tuple[BlockList, BlockList], tmp_path: Path
) -> None:
    cname_list, nx_list = lists
    cname_list.add("domain", "blocked.test")
    nx_list.add("domain", "gone.test")
    cname_zone, nx_zone = tmp_path / "cname.rpz", tmp_path / "nx.rpz"
    cname_zone.write_text(rpz_zone(cname_list, RpzPolicy("rpz.hashwarden.", STOP)))
    nx_zone.write_text(rpz_zone(nx_list, RpzPolicy("nx.hashwarden.")))
    port = free_port()
    conf = _unbound_conf(tmp_path, port, {"rpz.hashwarden.": cname_zone, "nx.hashwarden.": nx_zone})
    check = subprocess.run(
        [str(Path(unbound_bin).with_name("unbound-checkconf")), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen(
        [unbound_bin, "-d", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(port, "ok.test")
        # listed: the name and any subdomain answer with the stop page host
        for name in ("blocked.test", "www.blocked.test", "a.b.blocked.test"):
            got = answers(ask(port, name))
            assert got == {"CNAME": [f"{STOP}."], "A": ["127.0.0.53"]}, (name, got)
        # unlisted names, even similar ones, get their own local answer
        assert answers(ask(port, "ok.test")) == {"A": ["127.0.0.2"]}
        assert answers(ask(port, "sub.ok.test")) == {"A": ["127.0.0.3"]}
        assert rcode(ask(port, "notblocked.test")) == "NXDOMAIN"
        assert "CNAME" not in answers(ask(port, "notblocked.test"))
        # the NXDOMAIN policy
        gone = ask(port, "www.gone.test")
        assert rcode(gone) == "NXDOMAIN" and not gone.answer
        serial = int(answers(ask(port, "rpz.hashwarden.", "SOA"))["SOA"][0].split()[2])

        # a change moves the serial; Unbound picks the new zone up on reload (SIGHUP)
        cname_list.add("domain", "later.test")
        cname_zone.write_text(rpz_zone(cname_list, RpzPolicy("rpz.hashwarden.", STOP)))
        proc.send_signal(signal.SIGHUP)
        wait_ready(port, "ok.test")
        new_serial = int(answers(ask(port, "rpz.hashwarden.", "SOA"))["SOA"][0].split()[2])
        assert new_serial > serial
        assert answers(ask(port, "x.later.test")).get("CNAME") == [f"{STOP}."]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert "error:" not in log, log
