"""Where a webhook may be sent, and how a URL is shown without its credentials.

An admin rule names a URL, and the service's worker sends to it from inside the deployment's
network. Left unchecked, that makes the service a way into that network: a rule to
`http://127.0.0.1:5432/`, to a cloud's metadata service (`http://169.254.169.254/`) or to any
internal host, with the delivery listing telling open ports from closed ones. So webhooks go to
public addresses only, unless the deployment names an internal receiver in its allow-list
(`HASHWARDEN_WEBHOOK_ALLOW=10.0.0.0/8,webhooks.internal`).

The address is checked twice: when a rule is added (if its host is an address, in any of the
forms a resolver accepts: `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, `[::ffff:127.0.0.1]`),
and at every send, on the address the name resolves to. The send then connects to exactly that
address (the name stays in the Host header and in TLS's SNI and certificate check), so a name
cannot resolve to a public address for the check and to an internal one for the connection.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpcore
import httpx

from hashwarden.errors import UsageError

__all__ = [
    "REFUSED",
    "Address",
    "Resolver",
    "TargetPolicy",
    "TargetRefused",
    "hide_urls_in_httpx_log",
    "literal_address",
    "pinned_transport",
    "redact_url",
    "refusal_reason",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) -> the addresses it resolves to, as text, in the resolver's order.
Resolver = Callable[[str, int], list[str]]

#: The delivery error of a refused target (the reason stays in the service log).
REFUSED = "refused: address not allowed"

#: Cloud metadata services: refused by name as well as by address, since some answer on
#: addresses outside the ranges refused anyway (Azure's 168.63.129.16 is a public address).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
#: Hosts a resolver reads as a number: digits, dots, and hex digits after `0x`.
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


class TargetRefused(UsageError):
    """A webhook URL whose address is not allowed (HTTP 422 when a rule is added)."""


def literal_address(host: str) -> Address | None:
    """The address a host names by itself, read as a resolver would (None for a name):
    dotted quads, IPv6 (with or without brackets), and the inet_aton forms a URL parser leaves
    alone but `getaddrinfo` accepts: one to four parts, each decimal, octal (`0177`) or hex
    (`0x7f`), the last filling the remaining bytes (`127.1`, `2130706433`)."""
    text = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not _NUMERIC.fullmatch(text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def refusal_reason(address: Address) -> str | None:
    """Why an address is no webhook target by default (None: a public address)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.teredo is not None:
            return "a Teredo address"
        embedded = address.sixtofour
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = refusal_reason(embedded)
            if inner is not None:
                return f"an IPv6 address embedding {embedded} ({inner})"
        if address.is_site_local:
            return "a site-local address"
        if address in _UNIQUE_LOCAL:
            return "a unique-local address"
    checks = (
        ("a loopback address", address.is_loopback),
        ("the unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a shared (CGNAT) address", address in _CGNAT),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("not a public address", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `getaddrinfo` gives for a host, in its order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"could not resolve {host!r}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class TargetPolicy:
    """Public addresses, plus the networks and host names an operator allows."""

    networks: tuple[Network, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> TargetPolicy:
        """`10.0.0.0/8,192.168.1.20,webhooks.internal`: networks, single addresses and names."""
        items = text.split(",") if isinstance(text, str) else list(text)
        networks: list[Network] = []
        names: set[str] = set()
        for raw in items:
            item = raw.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = _host_name(item)
            if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]{0,252})", name):
                raise UsageError(f"webhook allow-list: {item!r} is neither a network nor a name")
            names.add(name)
        return cls(tuple(networks), frozenset(names))

    def allows_name(self, host: str) -> bool:
        return _host_name(host) in self.names

    def address_refusal(self, address: Address) -> str | None:
        """Why a resolved address is refused (None: it may be connected to)."""
        if any(address.version == net.version and address in net for net in self.networks):
            return None
        return refusal_reason(address)

    def check_url(self, url: str) -> None:
        """What can be told before any look-up: an http(s) URL whose host, if it is an
        address or a metadata name, is allowed. Raises `TargetRefused`."""
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise UsageError(f"webhook_url must be an http(s) URL, not {redact_url(url)!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise UsageError(f"webhook_url {redact_url(url)!r} has a bad port") from exc
        if self.allows_name(host):
            return
        if _host_name(host) in METADATA_NAMES:
            raise _refused(url, f"{host} is a cloud metadata service")
        address = literal_address(host)
        if address is not None:
            reason = self.address_refusal(address)
            if reason is not None:
                raise _refused(url, f"{address} is {reason}")

    def resolve(self, host: str, port: int, resolver: Resolver) -> str:
        """The one address a send to `host` connects to: the first the resolver gives that is
        allowed. Raises `TargetRefused` when there is none (or the name is refused)."""
        allowed_name = self.allows_name(host)
        if not allowed_name and _host_name(host) in METADATA_NAMES:
            raise TargetRefused(f"{REFUSED}: {host} is a cloud metadata service")
        literal = literal_address(host)
        candidates = [str(literal)] if literal is not None else resolver(host, port)
        reasons = []
        for text in candidates:
            address = ipaddress.ip_address(text.split("%")[0])
            reason = None if allowed_name else self.address_refusal(address)
            if reason is None:
                return text
            reasons.append(f"{address} is {reason}")
        raise TargetRefused(f"{REFUSED}: {host} resolves to " + ("; ".join(reasons) or "nothing"))


def _host_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _refused(url: str, why: str) -> TargetRefused:
    return TargetRefused(
        f"webhook_url {redact_url(url)!r}: {REFUSED} ({why}); an internal receiver must be"
        " listed in HASHWARDEN_WEBHOOK_ALLOW"
    )


# -- connecting to the checked address ---------------------------------------------------------
class _PinnedBackend(httpcore.NetworkBackend):
    """Resolves and checks the host once per connection, then connects to that address; TLS
    still verifies the certificate against the name (httpcore passes the URL's host as SNI)."""

    def __init__(self, policy: TargetPolicy, resolver: Resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self.policy.resolve(host, port, self.resolver)
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise TargetRefused(f"{REFUSED}: unix sockets are no webhook target")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def pinned_transport(policy: TargetPolicy, resolver: Resolver | None = None) -> httpx.HTTPTransport:
    """An httpx transport that connects only to allowed addresses, each checked after its one
    resolution (`resolver`: `system_resolver` unless a test injects its own)."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=_PinnedBackend(policy, resolver or system_resolver),
    )
    return transport


# -- showing a URL -----------------------------------------------------------------------------
_SECRET_KEY = re.compile(
    r"token|secret|key|sig|signature|pass|pwd|auth|credential|session|code|hmac|jwt|bearer",
    re.IGNORECASE,
)
#: A path segment that looks like a random credential (as in Slack-style hook URLs).
_SECRET_SEGMENT = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}")
MASK = "***"


def redact_url(url: str) -> str:
    """The URL as it may be shown or logged: user and password, query values under names that
    look secret (token, key, sig, auth, ...) and long random-looking path segments replaced by
    `***`. The real URL is kept only where it is sent from."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises here: show nothing of it
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    path = "/".join(
        MASK if _SECRET_SEGMENT.fullmatch(segment) else segment for segment in parts.path.split("/")
    )
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [
                (k, MASK if _SECRET_KEY.search(k) or _SECRET_SEGMENT.fullmatch(v) else v)
                for k, v in pairs
            ],
            safe="*",
            quote_via=quote,
        )
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


class _RedactUrls(logging.Filter):
    """Rewrites the URLs httpx logs ("HTTP Request: POST https://user:pass@...") redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


def hide_urls_in_httpx_log() -> None:
    """httpx logs every request's full URL at INFO: webhook URLs may carry credentials, so
    the `httpx` logger is given a filter that redacts them (once a process)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrls) for f in logger.filters):
        logger.addFilter(_RedactUrls())
