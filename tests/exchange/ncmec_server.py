"""A local stand-in for NCMEC's hash sharing API (v2) as python-threatexchange's NCMEC client
calls it: `GET entries` (XML pages of image and video entries, deleted entries as
`deletedImage`/`deletedVideo`, a `paging/next` link), `GET feedback/{TYPE}/reasons` and
`PUT entries/{esp}/{entry}/{TYPE}/feedback` (an `affirmative` or `negative` submission). It
listens on 127.0.0.1 only, answers scripted statuses to feedback, and is stopped by `close`."""

from __future__ import annotations

import base64
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from ._loopback import LoopbackServer, QuietHandler

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
USER, PASSWORD = "esp-user", "n0t-a-real-passw0rd-7731"
#: The one reason NCMEC offers for a down-vote here (the client picks it when it is alone).
REASON_GUID = "b7a3c1de-0000-4000-8000-000000000001"


@dataclass
class Entry:
    """One entry as NCMEC lists it; `deleted`: its tombstone."""

    id: str
    member: int
    kind: str  # image | video
    #: When NCMEC updated it (seconds since the epoch).
    ts: int
    fingerprints: dict[str, str] = field(default_factory=dict)
    classification: str | None = "A1"
    deleted: bool = False


@dataclass
class Feedback:
    path: str
    vote: str  # affirmative | negative
    reasons: list[str]
    authorised: bool


class NCMECServer(LoopbackServer):
    def __init__(self) -> None:
        #: The entries and tombstones, served by their update time, `page_size` a page.
        self.entries: list[Entry] = []
        self.page_size = 2
        self.requests: list[dict[str, str]] = []
        self.feedback: list[Feedback] = []
        #: Statuses for the next feedback submissions (then 200).
        self.feedback_statuses: list[int] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(QuietHandler):
            content_type = "application/xml"

            def _authorised(self) -> bool:
                expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                return self.headers.get("Authorization", "") == f"Basic {expected}"

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                outer.requests.append({"path": url.path, **query})
                if not self._authorised():
                    return self.answer(401)
                if url.path == "/v2/entries":
                    return self.answer(200, outer.entries_page(query))
                if url.path.startswith("/v2/feedback/") and url.path.endswith("/reasons"):
                    root = ET.Element("feedbackReasonsResponse", xmlns=NS)
                    reasons = ET.SubElement(root, "availableFeedbackReasons")
                    ET.SubElement(reasons, "reason", guid=REASON_GUID, name="Not CSAM")
                    return self.answer(200, ET.tostring(root))
                return self.answer(404)

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = ET.fromstring(self.rfile.read(length))
                vote = body[0].tag.partition("}")[2] or body[0].tag
                reasons = [g.text or "" for g in body.iter() if g.tag.endswith("guid")]
                with outer.arrived:
                    status = outer.feedback_statuses.pop(0) if outer.feedback_statuses else 200
                    outer.feedback.append(Feedback(self.path, vote, reasons, self._authorised()))
                    outer.arrived.notify_all()
                self.answer(status)

        super().__init__(Handler)

    def entries_page(self, query: dict[str, str]) -> bytes:
        """The entries updated between `from` and `to` (read as the client writes them), one
        page of them: `start` (from a next link) numbers the page."""
        low, high = (_timestamp(query.get(k, "")) for k in ("from", "to"))
        listed = sorted((e for e in self.entries if low <= e.ts <= high), key=lambda e: e.ts)
        number = int(query.get("start", "0"))
        page = listed[number * self.page_size : (number + 1) * self.page_size]
        root = ET.Element("queryResult", xmlns=NS)
        for kind in ("image", "video"):
            group_entries = [e for e in page if e.kind == kind]
            if not group_entries:
                continue
            group = ET.SubElement(root, f"{kind}s", count=str(len(group_entries)))
            newest = max(e.ts for e in group_entries)
            group.set("maxTimestamp", datetime.fromtimestamp(newest, UTC).strftime(_FORMAT))
            for entry in group_entries:
                tag = f"deleted{kind.title()}" if entry.deleted else kind
                element = ET.SubElement(group, tag)
                ET.SubElement(element, "id").text = entry.id
                ET.SubElement(element, "member", id=str(entry.member)).text = "An ESP"
                if entry.classification and not entry.deleted:
                    ET.SubElement(element, "classification").text = entry.classification
                prints = ET.SubElement(element, "fingerprints")
                for name, value in [] if entry.deleted else entry.fingerprints.items():
                    ET.SubElement(prints, name).text = value
        if (number + 1) * self.page_size < len(listed):
            paging = ET.SubElement(root, "paging")
            ET.SubElement(paging, "next").text = (
                f"/v2/entries?from={query.get('from', '')}&to={query.get('to', '')}"
                f"&start={number + 1}&size={self.page_size}&max={len(listed)}"
            )
        return ET.tostring(root)

    def wait_for_feedback(self, count: int, timeout: float = 20.0) -> list[Feedback]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.feedback) >= count, timeout)
        assert len(self.feedback) >= count, f"{len(self.feedback)} of {count} votes arrived"
        return self.feedback


_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _timestamp(text: str) -> int:
    """A time as the client formats it (its local time, marked Z), back to seconds."""
    return int(datetime.strptime(text, _FORMAT).timestamp()) if text else 0


@contextmanager
def ncmec_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[NCMECServer]:
    """The server, with python-threatexchange's NCMEC client pointed at it (its base URL comes
    from the NCMEC environment named in the exchange's config; here it is the loopback's)."""
    from threatexchange.exchanges.clients.ncmec import hash_api

    server = NCMECServer()
    real_init = hash_api.NCMECHashAPI.__init__

    def init(self: Any, username: str, password: str, environment: Any) -> None:
        real_init(self, username, password, environment)
        self._base_url = server.base

    monkeypatch.setattr(hash_api.NCMECHashAPI, "__init__", init)
    monkeypatch.setenv("HW_TEST_NCMEC", f"{USER}:{PASSWORD}")
    try:
        yield server
    finally:
        server.close()
