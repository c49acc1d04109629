"""A local stand-in for Meta's ThreatExchange Graph API as python-threatexchange's client calls
it to fetch: `GET /{privacy_group}/threat_updates/` with the app token as `access_token` in the
query (as the Graph API takes it), `start_time` to resume from, pages of `limit` updates linked
by `paging.next` (carrying an `after` cursor and the token, as Graph's next links do), and
`should_delete` tombstones. It listens on 127.0.0.1 only, answers scripted failures (a status or
a body that is not JSON), and is stopped by leaving `threatexchange_server`."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from ._loopback import LoopbackServer, QuietHandler

#: An app token of the shape python-threatexchange accepts (APP_ID|SECRET); not a real one.
APP_ID = 900000000001
TOKEN = f"{APP_ID}|n0tArealThreatExchangeS3cret"
#: The ThreatExchange member (another app) whose descriptors the updates carry.
OWNER = 900000000002


@dataclass
class Update:
    """One indicator as /threat_updates lists it; `deleted`: its tombstone."""

    indicator: str
    type: str  # HASH_PDQ | HASH_VIDEO_MD5 | HASH_MD5 | URI ...
    last_updated: int
    tags: list[str] = field(default_factory=list)
    status: str = "MALICIOUS"
    deleted: bool = False

    def as_json(self, number: int) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": str(1000 + number),
            "indicator": self.indicator,
            "type": self.type,
            "last_updated": self.last_updated,
            "should_delete": self.deleted,
        }
        if not self.deleted:
            descriptor = {
                "id": str(2000 + number),
                "owner": {"id": str(OWNER)},
                "status": self.status,
                "tags": list(self.tags),
            }
            shown["descriptors"] = {"data": [descriptor]}
        return shown


class ThreatExchangeServer(LoopbackServer):
    def __init__(self, privacy_group: int) -> None:
        self.privacy_group = privacy_group
        #: The updates, served by their time from `start_time` on, `limit` a page.
        self.updates: list[Update] = []
        #: Every request's path and query (the token included: the client must send it).
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                outer.requests.append({"path": url.path, **query})
                failure = outer.scripted_failure(len(outer.requests))
                if failure is not None:
                    if isinstance(failure, int):
                        error = {"error": {"message": "An unknown error occurred", "code": 1}}
                        return self.answer(failure, json.dumps(error).encode())
                    return self.answer(200, failure)
                if query.get("access_token") != TOKEN:
                    error = {"error": {"message": "Invalid OAuth access token.", "code": 190}}
                    return self.answer(400, json.dumps(error).encode())
                if url.path != f"/{outer.privacy_group}/threat_updates/":
                    return self.answer(404, b'{"error": {"message": "Unknown path"}}')
                self.answer(200, json.dumps(outer.page(query)).encode())

        super().__init__(Handler)

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        """The updates from `start_time` on (Graph's start is inclusive), oldest first, one
        page of `limit` from the `after` cursor; `paging.next` while more remain."""
        since = int(query.get("start_time") or 0)
        listed = sorted(
            (u for u in self.updates if u.last_updated >= since), key=lambda u: u.last_updated
        )
        limit = min(int(query.get("limit") or 100), 2)  # small pages: the client follows links
        offset = int(query.get("after") or 0)
        numbered = [(self.updates.index(u), u) for u in listed[offset : offset + limit]]
        answer: dict[str, Any] = {"data": [u.as_json(n) for n, u in numbered]}
        if offset + limit < len(listed):
            following = {**query, "after": str(offset + limit)}
            answer["paging"] = {
                "cursors": {"after": str(offset + limit)},
                "next": f"{self.base}/{self.privacy_group}/threat_updates/?"
                + urllib.parse.urlencode(following),
            }
        return answer


@contextmanager
def threatexchange_server(
    monkeypatch: pytest.MonkeyPatch, privacy_group: int
) -> Iterator[ThreatExchangeServer]:
    """The server, with python-threatexchange's Graph API client pointed at it: the client
    reads its base URL from the class attribute `_TE_BASE_URL` (the SignalExchangeAPI passes no
    `endpoint_override`), which the test alone changes. The token is in HW_TEST_TX."""
    from threatexchange.exchanges.clients.fb_threatexchange import api

    server = ThreatExchangeServer(privacy_group)
    monkeypatch.setattr(api.ThreatExchangeAPI, "_TE_BASE_URL", server.base)
    monkeypatch.setenv("HW_TEST_TX", TOKEN)
    try:
        yield server
    finally:
        server.close()
