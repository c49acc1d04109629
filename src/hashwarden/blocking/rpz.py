"""RPZ (DNS response policy zone) export: what Unbound, BIND, PowerDNS Recursor and Knot load.

Each domain entry `example.com` becomes two policy records, for the name and its subdomains:

    example.com     CNAME stop.isp.example.   ; or "CNAME ." for NXDOMAIN
    *.example.com   CNAME stop.isp.example.

or, with the stop page's addresses, `example.com A 192.0.2.80` (and AAAA) for both names.

The SOA serial is the list's version, so it moves with every change (add, remove, expiry).
Only domain entries go into a zone: DNS never sees a path, and IP-address entries are not
names. The zone holds names in clear; operators who must not hold them use the hashed list
with the resolver front (`resolver`) instead.

`rpz_delta` writes the changes after one version as an IXFR difference sequence (RFC 1995:
new SOA, old SOA, deletions, new SOA, additions, new SOA), for a primary that serves IXFR or
for `nsupdate`-style tooling.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hashwarden.blocking.store import BlockList
from hashwarden.errors import UsageError

__all__ = ["RpzPolicy", "rpz_delta", "rpz_zone"]

_NAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)+"
)
_TTL = 300


@dataclass(frozen=True, slots=True)
class RpzPolicy:
    """The zone's name and the answer: CNAME to `stop_host`, or the stop page's own addresses
    as local data (`stop_addresses`: the form every engine supports), or NXDOMAIN when neither
    is given."""

    zone: str = "rpz.hashwarden."
    stop_host: str | None = None
    stop_addresses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (self.zone, self.stop_host):
            if name is not None and not _NAME.fullmatch(name.lower().rstrip(".")):
                raise UsageError(f"{name!r} is not a DNS name")
        if self.stop_host is not None and self.stop_addresses:
            raise UsageError("give a stop host or stop addresses, not both")
        for address in self.stop_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise UsageError(f"{address!r} is not an IP address") from exc

    @property
    def target(self) -> str:
        return "." if self.stop_host is None else self.stop_host.rstrip(".") + "."

    def soa(self, serial: int) -> str:
        return f"@ {_TTL} IN SOA localhost. hostmaster.localhost. {serial} 3600 600 604800 {_TTL}"

    def records(self, name: str) -> list[str]:
        if not self.stop_addresses:
            return [f"{n} {_TTL} IN CNAME {self.target}" for n in (name, f"*.{name}")]
        return [
            f"{n} {_TTL} IN {'A' if ipaddress.ip_address(a).version == 4 else 'AAAA'} {a}"
            for n in (name, f"*.{name}")
            for a in self.stop_addresses
        ]


def _names(expressions: Iterable[str]) -> list[str]:
    """Domain expressions (`host/`) that are DNS names; IP entries and odd hosts are skipped."""
    names = (e[:-1] for e in expressions)
    return sorted(n for n in names if _NAME.fullmatch(n) and not n.rsplit(".", 1)[1].isdigit())


def _header(policy: RpzPolicy) -> list[str]:
    return [f"$ORIGIN {policy.zone.rstrip('.')}.", f"$TTL {_TTL}"]


def rpz_zone(store: BlockList, policy: RpzPolicy) -> str:
    """The whole zone file for the list's live domain entries."""
    store.expire()
    serial = store.version
    lines = [*_header(policy), policy.soa(serial), f"@ {_TTL} IN NS localhost."]
    for name in _names(e.expression for e in store.entries("domain")):
        lines += policy.records(name)
    return "\n".join(lines) + "\n"


def rpz_delta(store: BlockList, policy: RpzPolicy, *, since: int) -> str:
    """The IXFR difference from version `since` to now (only net changes)."""
    store.expire()
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for change in store.changes(since):
        if change.kind == "domain":
            first.setdefault(change.expression, change.op)
            last[change.expression] = change.op
    # Present before `since` if its first later change removed it; present now if the last added.
    deleted = _names(e for e in first if first[e] == "remove" and last[e] == "remove")
    added = _names(e for e in first if first[e] == "add" and last[e] == "add")
    serial = store.version
    lines = [
        f"; IXFR difference of {policy.zone} from serial {since} to {serial}",
        *_header(policy),
        policy.soa(serial),
        policy.soa(since),
    ]
    for name in deleted:
        lines += policy.records(name)
    lines.append(policy.soa(serial))
    for name in added:
        lines += policy.records(name)
    lines.append(policy.soa(serial))
    return "\n".join(lines) + "\n"
