"""A local stand-in for Tech Against Terrorism's hash list API (v2) as python-threatexchange's TAT
client calls it: `POST token-auth/tcap/` (form username and password → a JWT), then
`GET api/hash-list/v2/all` with the token as Bearer, `after` the checkpoint to resume from
(`UPDATED_ON,ID` of the last record seen), pages linked by `next` (a query string the client
splices after `?`), every record its `deleted` flag. It listens on 127.0.0.1 only, answers
scripted failures (a status or a body that is not JSON), and is stopped by leaving `tat_server`."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ._loopback import LoopbackServer, QuietHandler

USER, PASSWORD = "tat-user", "n0t-a-real-tat-passw0rd-5521"
#: The JWT the server hands out (what a leak of the session would show).
JWT = "eyJ0ZXN0IjoidGF0In0.bm90LWEtcmVhbC1qd3Q.c2lnbmF0dXJl"


@dataclass
class Record:
    """One hash as the list gives it; `deleted`: TAT withdrew it."""

    id: int
    hash_digest: str
    algorithm: str  # PDQ | MD5 | SHA256
    file_type: str  # mp4 ... (an MD5 counts as a video's only for video types)
    updated_on: float
    ideology: str = "far-right"
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "hash_digest": self.hash_digest,
            "algorithm": self.algorithm,
            "ideology": self.ideology,
            "file_type": self.file_type,
            "deleted": self.deleted,
            "updated_on": self.updated_on,
            "created_on": "2026-01-02 03:04:05,678",
            "id": self.id,
        }

    @property
    def position(self) -> tuple[float, int]:
        return (self.updated_on, self.id)


class TATServer(LoopbackServer):
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.page_size = 2
        #: Every hash list request's query and whether its Bearer token was the server's.
        self.requests: list[dict[str, str]] = []
        #: The form bodies of the token requests.
        self.logins: list[dict[str, str]] = []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                outer.logins.append(form)
                if self.path != "/token-auth/tcap/":
                    return self.answer(404, b"{}")
                if (form.get("username"), form.get("password")) != (USER, PASSWORD):
                    return self.answer(400, b'{"non_field_errors": ["Unable to log in."]}')
                self.answer(200, json.dumps({"token": JWT, "user": {"id": 1}}).encode())

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                bearer = self.headers.get("Authorization", "") == f"Bearer {JWT}"
                outer.requests.append({"path": url.path, "bearer": str(bearer), **query})
                failure = outer.scripted_failure(len(outer.requests))
                if failure is not None:
                    if isinstance(failure, int):
                        return self.answer(failure, b'{"error": "server error"}')
                    return self.answer(200, failure)
                if not bearer:
                    return self.answer(401, b'{"error": "Authentication error"}')
                if url.path != "/api/hash-list/v2/all":
                    return self.answer(404, b'{"error": "not found"}')
                self.answer(200, json.dumps(outer.page(query)).encode())

        super().__init__(Handler)

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        """The records after the `after` checkpoint, oldest first, one page from `offset`."""
        after = query.get("after", "")
        low = (float(after.partition(",")[0]), int(after.partition(",")[2])) if after else None
        listed = sorted(
            (r for r in self.records if low is None or r.position > low),
            key=lambda r: r.position,
        )
        offset = int(query.get("offset") or 0)
        page = listed[offset : offset + self.page_size]
        more = offset + self.page_size < len(listed)
        last = page[-1] if page else None
        return {
            "count": len(listed),
            "next": f"limit={self.page_size}&offset={offset + self.page_size}" if more else None,
            "previous": None,
            "checkpoint": f"{last.updated_on},{last.id}" if last else after,
            "results": [r.as_json() for r in page],
        }


@contextmanager
def tat_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[TATServer]:
    """The server, with python-threatexchange's TAT client pointed at it: the client reads its
    base URL from the class attribute `BASE_URL`, which the test alone changes. The
    credentials (USER:PASSWORD) are in HW_TEST_TAT."""
    from threatexchange.exchanges.clients.techagainstterrorism import api

    server = TATServer()
    monkeypatch.setattr(api.TATHashListAPI, "BASE_URL", f"{server.base}/")
    monkeypatch.setenv("HW_TEST_TAT", f"{USER}:{PASSWORD}")
    try:
        yield server
    finally:
        server.close()
