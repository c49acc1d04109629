"""A small DNS front for operators who must not hold the list's names in clear.

It sits between clients and the ISP's recursive resolver, holding only the hashed list: for
each query it hashes the name and its parent domains (see `Matcher.check_name`); a listed
name is answered with a CNAME to the stop-page host (with the stop page's address when given,
else the host as the upstream resolves it) or NXDOMAIN; anything else is forwarded unchanged
to the upstream resolver. UDP only; it logs nothing about queries or clients and counts hits
per entry digest per day (`BlockCounts`).
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from hashwarden.blocking._serving import BoundedQuietServer
from hashwarden.blocking.applied import Matcher
from hashwarden.blocking.counts import BlockCounts
from hashwarden.errors import UsageError

__all__ = ["DnsFront", "FrontPolicy", "parse_hostport", "serve_front"]

_TTL = 300


def parse_hostport(text: str, default_port: int = 53) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353` or `[::1]:53` -> (address, port)."""
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not an IP address (with an optional :port)") from exc
    return host, port


@dataclass(frozen=True, slots=True)
class FrontPolicy:
    """The answer for listed names: CNAME to `stop_host` (None: NXDOMAIN), with
    `stop_addresses` as its A/AAAA records when given."""

    stop_host: str | None = None
    stop_addresses: tuple[str, ...] = ()


class DnsFront:
    """Answers one DNS message (wire format) at a time; thread-safe."""

    def __init__(
        self,
        matcher: Matcher,
        upstream: tuple[str, int],
        policy: FrontPolicy,
        *,
        counts: BlockCounts | None = None,
        timeout: float = 3.0,
    ) -> None:
        self.matcher = matcher
        self.upstream = upstream
        self.policy = policy
        self.counts = counts
        self.timeout = timeout

    def _forward(self, query: dns.message.Message) -> dns.message.Message:
        try:
            response = dns.query.udp(
                query, self.upstream[0], port=self.upstream[1], timeout=self.timeout
            )
        except (dns.exception.DNSException, OSError):
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        return response

    def _blocked(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        if self.policy.stop_host is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        target = dns.name.from_text(self.policy.stop_host)
        cname = dns.rrset.from_text(question.name, _TTL, "IN", "CNAME", target.to_text())
        response.answer.append(cname)
        if question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            family = 4 if question.rdtype == dns.rdatatype.A else 6
            own = [
                a for a in self.policy.stop_addresses if ipaddress.ip_address(a).version == family
            ]
            if own:
                response.answer.append(
                    dns.rrset.from_text(target, _TTL, "IN", question.rdtype, *own)
                )
            elif not self.policy.stop_addresses:
                follow = self._forward(dns.message.make_query(target, question.rdtype))
                response.answer.extend(follow.answer)
        return response

    def handle(self, wire: bytes) -> bytes | None:
        """The response to one query, or None for something that is not a query."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire()
        question = query.question[0]
        hit = None
        if question.rdclass == dns.rdataclass.IN:
            hit = self.matcher.check_name(question.name.to_text(omit_final_dot=True))
        if hit is None:
            return self._forward(query).to_wire()
        if self.counts is not None:
            self.counts.record(hit.digest)
        return self._blocked(query).to_wire()


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data, sock = self.request
        answer = self.server.front.handle(data)
        if answer is not None:
            sock.sendto(answer, self.client_address)
        self.server.count_request()


class _Server(BoundedQuietServer, socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], front: DnsFront, max_requests: int | None):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.front = front
        self.bound(max_requests)
        super().__init__(address, _Handler)


def serve_front(
    front: DnsFront, host: str, port: int, *, max_requests: int | None = None
) -> _Server:
    """A bound server; call `serve_forever()` (it returns after `max_requests` when given)
    and then `server_close()`."""
    return _Server((host, port), front, max_requests)
