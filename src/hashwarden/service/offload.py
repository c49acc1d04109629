"""Work the match service keeps off its event loop, each with a bound a hostile client cannot
lift:

- `hash_body` splits a multipart body (at most `max_parts` parts) and hashes the upload;
  `DecodePool` runs it in a few threads of its own, so only so many decodes happen at once
  whatever the number of requests, and a full queue answers 503 with `Retry-After`;
- `parse_json` parses a JSON body (already capped in size) and refuses deep nesting;
- `ActionQueue` records the actions a match sets off from a background thread: a match answer
  waits for them only briefly, and actions the bank cannot take at once (its write lock held by
  a long import, say) wait in memory and are written when it can.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import json
import logging
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import HTTPException

from hashwarden.index.matcher import Match
from hashwarden.service.actions import ActionEngine
from hashwarden.service.banks import BankMatch
from hashwarden.service.metrics import Metrics
from hashwarden.signals.hashing import ContentHashes, hash_bytes

__all__ = [
    "MAX_JSON_DEPTH",
    "ActionQueue",
    "DecodePool",
    "form_fields",
    "hash_body",
    "parse_json",
    "skipped_reason",
    "upload_content",
]

log = logging.getLogger("hashwarden.service")

#: JSON nested deeper than this is refused (every body the service takes is 3 levels deep).
MAX_JSON_DEPTH = 32


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body, or 400 naming why not: not JSON, or nested too
    deeply (both json's own recursion limit and `MAX_JSON_DEPTH`)."""
    try:
        value = json.loads(body)
    except RecursionError as exc:
        raise HTTPException(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise HTTPException(400, "Request input was not JSON") from exc
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise HTTPException(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


def _header_param(header: str, value: str, param: str) -> str | None:
    message = email.message.Message()
    message[header] = value
    found = message.get_param(param, header=header)
    return email.utils.collapse_rfc2231_value(found) if found is not None else None


_FILENAME = re.compile(rb"filename", re.IGNORECASE)


def _is_file(head: bytes) -> bool:
    """Whether a part's headers name a file (Content-Disposition with a filename)."""
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-disposition":
            return _header_param("content-disposition", value.strip(), "filename") is not None
    return False


def upload_content(content_type: str, body: bytes, max_parts: int) -> bytes:
    """The file in a raw body, or the one file part of a multipart/form-data body, split in
    memory (nothing is spooled to disk). More than `max_parts` parts is 413; a part counts as
    a file when its Content-Disposition names a filename.

    Only parts that mention a filename are looked at, each found by a search over the bytes,
    so the work in Python grows with those parts, not with all of them."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    boundary = _header_param("content-type", content_type, "boundary")
    if not boundary:
        raise HTTPException(422, "a multipart upload needs a boundary in its Content-Type")
    dashes = b"--" + boundary.encode("latin-1", "replace")
    delimiter = b"\r\n" + dashes
    if body.count(dashes) - 1 > max_parts:
        raise HTTPException(413, f"a multipart upload may have at most {max_parts} parts")
    first = 0 if body.startswith(dashes) else body.find(delimiter) + 2
    if first < 2 and not body.startswith(dashes):
        raise HTTPException(422, "the multipart body holds no part")
    if not (body.startswith(dashes + b"--") or body.find(delimiter + b"--", first) >= 0):
        raise HTTPException(422, "the multipart body is not closed by its boundary")
    files: list[bytes] = []
    position = first
    while (hit := _FILENAME.search(body, position)) is not None:
        before = body.rfind(delimiter, first, hit.start())
        part = first if before < 0 else before + 2  # the part's own "--boundary" line
        line_end = body.find(b"\r\n", part)
        end = body.find(delimiter, line_end)
        if line_end < 0 or end < 0:
            break  # after the closing boundary: the epilogue
        head_end = body.find(b"\r\n\r\n", line_end, end + 2)  # at line_end: no headers
        if line_end < hit.start() < head_end and _is_file(body[line_end + 2 : head_end]):
            files.append(body[head_end + 4 : end])
        position = max(end + 2, hit.end())
    if len(files) != 1:
        raise HTTPException(422, f"a multipart upload must hold exactly one file, not {len(files)}")
    return files[0]


def form_fields(content_type: str, body: bytes, names: set[str], limit: int) -> dict[str, str]:
    """The text fields `names` of a multipart/form-data body (HMA sends an upload's `metadata`
    and `note` so), each at most `limit` bytes of UTF-8 (400 otherwise); file parts are
    skipped, never copied. Not multipart: no fields."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    boundary = _header_param("content-type", content_type, "boundary")
    if not boundary:
        return {}
    dashes = b"--" + boundary.encode("latin-1", "replace")
    delimiter = b"\r\n" + dashes
    found: dict[str, str] = {}
    position = 0 if body.startswith(dashes) else body.find(delimiter) + 2
    if position == 1:  # no part at all
        return found
    while True:
        line_end = body.find(b"\r\n", position)
        end = body.find(delimiter, line_end) if line_end >= 0 else -1
        if end < 0:
            break
        head_end = body.find(b"\r\n\r\n", line_end, end + 2)
        if head_end >= 0 and not _is_file(body[line_end + 2 : head_end]):
            name = _field_name(body[line_end + 2 : head_end])
            if name in names:
                value = body[head_end + 4 : end]
                if len(value) > limit:
                    raise HTTPException(400, f"form field {name!r} is over {limit} bytes")
                try:
                    found[name] = value.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise HTTPException(400, f"form field {name!r} is not UTF-8") from exc
        position = end + 2
    return found


def _field_name(head: bytes) -> str | None:
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            return _header_param("content-disposition", value.strip(), "name")
    return None


def hash_body(
    content_type: str,
    body: bytes,
    *,
    max_parts: int,
    max_pixels: int,
    views: Sequence[str] = (),
) -> ContentHashes:
    """Split and hash an upload: CPU work for a decode thread, never for the event loop.
    `views`: the views of the picture to hash besides (signals/views.py)."""
    data = upload_content(content_type, body, max_parts)
    del body
    if not data:
        raise HTTPException(422, "the upload is empty")
    return hash_bytes(data, variants=True, max_pixels=max_pixels, views=views)


def skipped_reason(hashes: ContentHashes) -> tuple[str, str] | None:
    """Why image matching was skipped for an upload, as (metric label, message), or None when
    it was not (a PDQ or vPDQ was computed)."""
    if hashes.pdq is not None or hashes.vpdq is not None:
        return None
    if hashes.image_error is not None:
        label = "over_limit" if hashes.image_over_limit else "corrupt"
        return label, f"image matching skipped: {hashes.image_error}"
    return "not_an_image", (
        "image matching skipped: not an image or video hashwarden can decode"
        " (no known file signature)"
    )


class DecodePool:
    """At most `workers` uploads split, hashed and decoded at once, in threads of their own;
    up to `queued` more wait for a thread. Beyond that an upload gets 503 with `Retry-After`.

    A decode cannot be interrupted: when a request's time runs out it gets 503 while the decode
    finishes in its thread, still counted against the bound (so memory stays within `workers`
    decodes of at most the pixel cap each). A request whose decode has not started is taken off
    the queue."""

    def __init__(self, workers: int, queued: int, metrics: Metrics) -> None:
        self.workers = workers
        self.room = workers + queued
        self.metrics = metrics
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()

    def _threads(self) -> ThreadPoolExecutor:
        """The decode threads, started again after `close` (a server's lifespan may end and
        start again, as in tests)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.workers, thread_name_prefix="hashwarden-decode"
                )
            return self._executor

    def _release(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    async def hash(
        self,
        content_type: str,
        body: bytes,
        *,
        max_parts: int,
        max_pixels: int,
        timeout_s: float,
        views: Sequence[str] = (),
    ) -> ContentHashes:
        with self._lock:
            if self._pending >= self.room:
                self.metrics.decodes_refused.inc()
                raise HTTPException(
                    503,
                    f"all {self.workers} decode slots are busy and {self.room - self.workers}"
                    " uploads wait already: try again shortly",
                    headers={"Retry-After": "1"},
                )
            self._pending += 1
        # `hash_body` is looked up here, at call time, so tests can slow it down.
        future = self._threads().submit(
            hash_body, content_type, body, max_parts=max_parts, max_pixels=max_pixels, views=views
        )
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError as exc:
            raise HTTPException(503, "hashing took too long", headers={"Retry-After": "1"}) from exc

    async def warm_up(self) -> None:
        """Start a decode thread now, not on the loop in the first upload's time."""
        await asyncio.wrap_future(self._threads().submit(time.monotonic))

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Job:
    matches: Sequence[BankMatch | Match]
    hashes: dict[str, str]
    uploader_ref: str | None
    incident_time: datetime | None
    retro: bool = False
    written: threading.Event = field(default_factory=threading.Event)


def _waiting_for_the_bank(exc: Exception) -> bool:
    """The bank could not take a write now (locked, busy, connection lost), as opposed to a
    write that can never succeed."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.OperationalError)


class ActionQueue:
    """Records match actions (report drafts, webhook deliveries) from one background thread,
    in the order the matches were answered.

    `record` waits at most `wait_s` for its actions to be written and then lets the answer go:
    the actions stay queued (at most `capacity` of them, in memory) and are retried, with
    growing pauses, while the bank refuses the write. Only a stop while the bank still refuses,
    a full queue, or a write that can never succeed lose actions, and each loss is logged
    and counted (`hashwarden_actions_lost_total`)."""

    def __init__(
        self, engine: ActionEngine, metrics: Metrics, *, wait_s: float, capacity: int
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.wait_s = wait_s
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._stopping = threading.Event()

    def record(
        self,
        matches: Sequence[BankMatch | Match],
        hashes: dict[str, str],
        *,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
        retro: bool = False,
    ) -> bool:
        """Queue the actions of one match and wait briefly; True once they are written.
        `retro`: the match of a recent look-up with entries added since (not waited for)."""
        if not matches:
            return True
        self._start()
        job = _Job(matches, hashes, uploader_ref, incident_time, retro)
        try:
            self._jobs.put(job, timeout=self.wait_s)
        except queue.Full:
            self._lost("queue_full", 1)
            return False
        self.metrics.actions_pending.inc()
        return job.written.wait(0 if retro else self.wait_s)

    def _start(self) -> None:
        """The thread starts with the first match, not with the app (which starts nothing)."""
        with self._started:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="hashwarden-actions", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._write(job)
            self.metrics.actions_pending.dec()

    def _write(self, job: _Job) -> None:
        pause = 0.05
        while True:
            try:
                self.engine.on_match(
                    job.matches,
                    job.hashes,
                    uploader_ref=job.uploader_ref,
                    incident_time=job.incident_time,
                    retro=job.retro,
                )
            except Exception as exc:
                if not _waiting_for_the_bank(exc):
                    log.exception("the actions of a match could not be recorded")
                    self._lost("failed", 1)
                    return
                if self._stopping.wait(pause):
                    self._lost("stopped", 1)
                    return
                pause = min(pause * 2, 5.0)
                continue
            job.written.set()
            return

    def _lost(self, why: str, count: int) -> None:
        self.metrics.actions_lost.labels(why).inc(count)
        log.error("%d match action(s) not recorded: %s", count, why.replace("_", " "))

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (for up to `timeout_s`), then stop; what the bank still refused
        by then is logged and counted as lost."""
        with self._started:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        with suppress(queue.Full):  # a full queue: the stop flag below ends the thread
            self._jobs.put(None, timeout=timeout_s)
        thread.join(timeout_s)
        self._stopping.set()
        thread.join(1.0)
        left = int(thread.is_alive())  # still waiting on the bank with one match's actions
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            left += job is not None
        if left:
            self._lost("stopped", left)
        self._stopping.clear()  # a later match starts the thread again
