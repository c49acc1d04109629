"""Loopback DNS helpers for the resolver tests: free ports, queries, waiting for readiness."""

from __future__ import annotations

import socket
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (racy, but fine for one test)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port


def ask(port: int, name: str, rdtype: str = "A", timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, LOOPBACK, port=port, timeout=timeout)


def answers(response: dns.message.Message) -> dict[str, list[str]]:
    """{"CNAME": [...], "A": [...], ...} of the answer section, as text."""
    out: dict[str, list[str]] = {}
    for rrset in response.answer:
        out.setdefault(dns.rdatatype.to_text(rrset.rdtype), []).extend(r.to_text() for r in rrset)
    return out


def rcode(response: dns.message.Message) -> str:
    return dns.rcode.to_text(response.rcode())


def wait_ready(port: int, name: str, deadline_s: float = 15.0) -> None:
    """Until the server on `port` answers a query for `name` (anything counts as an answer)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            ask(port, name, timeout=0.5)
            return
        except (OSError, dns.exception.Timeout):
            if time.monotonic() > end:
                raise TimeoutError(f"no DNS server answered on {LOOPBACK}:{port}") from None
            time.sleep(0.1)
