"""RPZ export: zone contents, moving serials, the IXFR delta, and a real Unbound loading it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import dns.zone
import pytest
from typer.testing import CliRunner

from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone
from hashwarden.blocking.store import BlockList
from hashwarden.cli import app
from hashwarden.errors import UsageError

from ._dns import answers, ask, free_port, rcode, wait_ready
from ._unbound import running_unbound, unbound_bin, unbound_conf

__all__ = ["unbound_bin"]  # a fixture

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
        local = rpz_zone(store, RpzPolicy(stop_addresses=("192.0.2.80", "2001:db8::80")))
        assert "*.three.example 300 IN A 192.0.2.80" in local
        assert "three.example 300 IN AAAA 2001:db8::80" in local
    with pytest.raises(UsageError):
        RpzPolicy(stop_host="not a name")
    with pytest.raises(UsageError):
        RpzPolicy(stop_addresses=("300.1.1.1",))
    with pytest.raises(UsageError):
        RpzPolicy(stop_host=STOP, stop_addresses=("192.0.2.80",))


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
    with BlockList.create(tmp_path / "local.db") as local_list:
        local_list.add("domain", "local.test")
        local_zone = tmp_path / "local.rpz"
        local_zone.write_text(
            rpz_zone(local_list, RpzPolicy("local.hashwarden.", stop_addresses=("127.0.0.80",)))
        )
    port = free_port()
    zones = {"rpz.hashwarden.": cname_zone, "nx.hashwarden.": nx_zone}
    conf = unbound_conf(tmp_path, port, zones | {"local.hashwarden.": local_zone})
    with running_unbound(unbound_bin, conf, port) as proc:
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
        # the stop page's own address as local data
        assert answers(ask(port, "www.local.test")) == {"A": ["127.0.0.80"]}
        serial = int(answers(ask(port, "rpz.hashwarden.", "SOA"))["SOA"][0].split()[2])

        # a change moves the serial; Unbound picks the new zone up on reload (SIGHUP)
        cname_list.add("domain", "later.test")
        cname_zone.write_text(rpz_zone(cname_list, RpzPolicy("rpz.hashwarden.", STOP)))
        proc.send_signal(signal.SIGHUP)
        wait_ready(port, "ok.test")
        new_serial = int(answers(ask(port, "rpz.hashwarden.", "SOA"))["SOA"][0].split()[2])
        assert new_serial > serial
        assert answers(ask(port, "x.later.test")).get("CNAME") == [f"{STOP}."]
