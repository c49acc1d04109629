"""The app for `uvicorn --factory hashwarden.service.asgi:app_from_env`: how each of several
worker processes builds its own app (its own bank connection and index) from the environment
`hashwarden serve` sets."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hashwarden.bank import open_bank
from hashwarden.service.app import create_app
from hashwarden.service.settings import ServiceSettings

__all__ = ["CountedHttpProtocol", "NoDelayHttpProtocol", "app_from_env"]


class NoDelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with TCP_NODELAY on every connection.

    With several workers uvicorn binds the listening socket itself, without a protocol number,
    so asyncio does not switch Nagle's algorithm off on accepted connections; a response's
    header and body then wait on the client's delayed ACK, 40 ms a request."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


class CountedHttpProtocol(NoDelayHttpProtocol):
    """A worker's HTTP protocol: adds each connection it ends to the worker's count of closed
    connections, which the supervisor reads to choose the worker for the next (server.py)."""

    #: The node's shared counts and this worker's place in them (set before it serves).
    closed: Any = None
    slot = 0

    @classmethod
    def count_closed(cls) -> None:
        """One more connection this worker ended (or never took up)."""
        cls.closed[cls.slot] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.count_closed()


def app_from_env() -> FastAPI:
    """One JSON line a request on standard error (see `app.observe`), then the app."""
    log = logging.getLogger("hashwarden.service")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    location = os.environ["HASHWARDEN_BANK"]
    return create_app(
        ServiceSettings.from_env(),
        open_bank(location),
        reader=open_bank(location, readonly=True),  # the full DSN, password and all
    )
