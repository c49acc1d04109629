"""FastAPI application: hash uploads in memory, match them against the bank's named banks, and
manage those banks, for platforms that put it in front of their uploads.

Uploads are read from the raw request stream into memory with a size limit, and multipart bodies
are split in memory too, so nothing ever spools content to a temporary file; the bytes are
dropped after hashing. Every route but `/status` and `/metrics` needs an API key
(`Authorization: Bearer KEY`) whose role allows it (see `keys.PERMISSIONS`), unless the
deployment grants a role to keyless requests (`keyless_role`, for HMA clients behind the
platform's own gateway).

Nothing that can take long runs on the event loop: splitting, hashing and decoding run in a
bounded pool of threads (`offload.DecodePool`), bank and matcher calls in the thread pool, and a
match's actions are written by a background thread (`offload.ActionQueue`), so a worker keeps
answering while another request is parsed, decoded or waits for the bank. Matching reads the
bank through a connection of its own, so it never queues behind this worker's writes, which may
wait for the bank's write lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AfterValidator, BaseModel, Field

from hashwarden._time import parse_utc
from hashwarden.bank import open_bank
from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import HashwardenError, NotFoundError, UsageError
from hashwarden.index.matcher import BankMatcher, Match
from hashwarden.service.actions import ActionEngine, DeliverySettings, WebhookWorker
from hashwarden.service.actions_api import actions_router
from hashwarden.service.banks import DEFAULT_BANK, BankMatch, NamedBanks, Resolved, parse_until
from hashwarden.service.keys import ROLES, ApiKey, KeyRing, RateLimiter
from hashwarden.service.metrics import Metrics
from hashwarden.service.offload import ActionQueue, DecodePool, parse_json, skipped_reason
from hashwarden.service.privacy import MatchPrivacy, NearMatchPrivacy, privacy_router
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import MAX_IMAGE_PIXELS, ContentHashes

__all__ = ["ServiceSettings", "ServiceState", "create_app"]

log = logging.getLogger("hashwarden.service")


EntryId = Annotated[int, PathParam(ge=1, le=2**62)]


def _env(name: str, default: float | None, kind: type[int] | type[float]) -> Any:
    """A number from the environment, or a UsageError naming the variable."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {text!r}") from None


@dataclass(frozen=True)
class ServiceSettings:
    """Service limits and access; `from_env` reads `HASHWARDEN_*` variables. Checked when made
    (UsageError naming the setting), so a wrong one stops `serve` instead of failing requests."""

    max_upload_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 30.0
    threshold: int = 31
    #: A role granted to requests that carry no key (off by default).
    keyless_role: str | None = None
    #: Rate for keys created without one (requests a minute; None: unlimited).
    default_rate_per_minute: int | None = None
    #: Uploaded images of more pixels than this are refused (413) from their header, before
    #: anything is decoded; a decode takes about 4 bytes a pixel.
    max_upload_pixels: int = 50_000_000
    #: Uploads split, hashed and decoded at once by one worker, and how many more may wait.
    max_decodes: int = 2
    decode_queue: int = 16
    #: Parts a multipart upload may have (one file, a few fields).
    max_multipart_parts: int = 16
    #: Size of every request body other than an upload (JSON).
    max_json_bytes: int = 1024 * 1024
    #: How long a match answer waits for its actions to be written before it goes anyway
    #: (they stay queued), and how many queued actions one worker holds at most.
    action_wait_s: float = 0.5
    action_queue: int = 10_000
    extra: dict[str, str] = field(default_factory=dict)
    webhooks: DeliverySettings = field(default_factory=DeliverySettings)
    #: What keys that may not read the bank learn from near matches (see `privacy`).
    privacy: MatchPrivacy = field(default_factory=MatchPrivacy)

    def __post_init__(self) -> None:
        if self.keyless_role is not None and self.keyless_role not in ROLES:
            raise UsageError(
                f"HASHWARDEN_KEYLESS_ROLE (--keyless-role) must be one of {', '.join(ROLES)},"
                f" not {self.keyless_role!r}"
            )
        if not 0 <= self.threshold <= 256:
            raise UsageError("HASHWARDEN_THRESHOLD must be between 0 and 256")
        if not 1 <= self.max_upload_pixels <= MAX_IMAGE_PIXELS:
            raise UsageError(
                f"HASHWARDEN_MAX_UPLOAD_PIXELS must be between 1 and {MAX_IMAGE_PIXELS}"
            )
        at_least = {
            "HASHWARDEN_MAX_UPLOAD_BYTES": (self.max_upload_bytes, 1),
            "HASHWARDEN_MAX_DECODES": (self.max_decodes, 1),
            "HASHWARDEN_DECODE_QUEUE": (self.decode_queue, 0),
            "HASHWARDEN_MAX_MULTIPART_PARTS": (self.max_multipart_parts, 1),
            "HASHWARDEN_MAX_JSON_BYTES": (self.max_json_bytes, 1024),
            "HASHWARDEN_ACTION_QUEUE": (self.action_queue, 1),
            "HASHWARDEN_REQUEST_TIMEOUT_S": (self.request_timeout_s, 0.001),
            "HASHWARDEN_ACTION_WAIT_S": (self.action_wait_s, 0),
        }
        if self.default_rate_per_minute is not None:
            at_least["HASHWARDEN_DEFAULT_RATE_PER_MINUTE"] = (self.default_rate_per_minute, 1)
        for name, (value, least) in at_least.items():
            if value < least:
                raise UsageError(f"{name} must be at least {least}, not {value}")

    @classmethod
    def from_env(cls) -> ServiceSettings:
        return cls(
            max_upload_bytes=_env("HASHWARDEN_MAX_UPLOAD_BYTES", cls.max_upload_bytes, int),
            request_timeout_s=_env("HASHWARDEN_REQUEST_TIMEOUT_S", cls.request_timeout_s, float),
            threshold=_env("HASHWARDEN_THRESHOLD", cls.threshold, int),
            keyless_role=os.environ.get("HASHWARDEN_KEYLESS_ROLE") or None,
            default_rate_per_minute=_env("HASHWARDEN_DEFAULT_RATE_PER_MINUTE", None, int),
            max_upload_pixels=_env("HASHWARDEN_MAX_UPLOAD_PIXELS", cls.max_upload_pixels, int),
            max_decodes=_env("HASHWARDEN_MAX_DECODES", cls.max_decodes, int),
            decode_queue=_env("HASHWARDEN_DECODE_QUEUE", cls.decode_queue, int),
            max_multipart_parts=_env(
                "HASHWARDEN_MAX_MULTIPART_PARTS", cls.max_multipart_parts, int
            ),
            max_json_bytes=_env("HASHWARDEN_MAX_JSON_BYTES", cls.max_json_bytes, int),
            action_wait_s=_env("HASHWARDEN_ACTION_WAIT_S", cls.action_wait_s, float),
            action_queue=_env("HASHWARDEN_ACTION_QUEUE", cls.action_queue, int),
            webhooks=DeliverySettings.from_env(),
            privacy=MatchPrivacy.from_env(),
        )


def _stampable(moment: datetime) -> datetime:
    """A time the bank can store in UTC: `9999-12-31T23:59:59-14:00` is past year 9999 there."""
    try:
        moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the time is outside years 1 to 9999 once turned to UTC") from exc
    return moment


def _until(value: str | None) -> str | None:
    """`disabled_until` checked where it is parsed: an ISO 8601 time within years 1 to 9999
    in UTC, or empty (enable now)."""
    if not value:
        return value
    try:
        return parse_until(value)
    except (UsageError, OverflowError) as exc:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or time within years 1 to 9999 in UTC"
        ) from exc


#: A time as parsed from a request: any offset, but one that fits in UTC.
Stampable = Annotated[datetime, AfterValidator(_stampable)]
Until = Annotated[str | None, AfterValidator(_until)]


@dataclass(eq=False)
class BankMatchOut(Match):
    """A match and the named banks it counts in."""

    banks: list[str] = field(default_factory=list)


class MatchResponse(BaseModel):
    hashes: dict[str, str]
    matches: list[BankMatchOut]
    known_good: list[str]
    #: Negative banks that matched: every other match was suppressed.
    suppressed_by: list[str] = []
    #: For an upload: why image matching was skipped (not decodable, not an image), or null.
    image_error: str | None = None


class HashesIn(BaseModel):
    """Hashes computed by the client."""

    signals: dict[str, str]
    pdq_quality: int | None = None
    #: For actions: the platform's reference to the uploader and when the upload happened.
    uploader_ref: str | None = Field(default=None, max_length=256)
    incident_time: Stampable | None = None


class BankIn(BaseModel):
    name: str
    threshold: int | None = Field(None, ge=0, le=256)
    negative: bool = False
    matching_enabled_ratio: float = Field(1.0, ge=0.0, le=1.0)
    note: str | None = Field(None, max_length=1000)


class BankPatch(BaseModel):
    threshold: int | None = Field(None, ge=0, le=256)
    negative: bool | None = None
    matching_enabled_ratio: float | None = Field(None, ge=0.0, le=1.0)
    disabled_until: Until = Field(None, description="ISO 8601; empty string: enable now")
    note: str | None = Field(None, max_length=1000)


class EntryIn(BaseModel):
    """An entry added by its hashes."""

    signals: dict[str, str]
    category: str = "uncategorised"
    series: str | None = Field(None, max_length=200)
    victim_identified: bool = False
    note: str | None = Field(None, max_length=1000)


class EntryPatch(BaseModel):
    category: str | None = None
    series: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=1000)
    disabled_until: Until = Field(
        None, description="Stop it matching in this bank until then (ISO 8601); empty: enable"
    )


class VoteIn(BaseModel):
    vote: str = Field(..., pattern="^(confirm|dispute)$")
    reason: str | None = Field(None, max_length=1000)


class EntryOut(BaseModel):
    id: int
    signals: dict[str, str]
    category: str
    series: str | None
    victim_identified: bool
    source: str | None
    note: str | None
    added: str
    disabled_until: str | None = None


class AddedOut(BaseModel):
    ids: list[int]
    duplicates: int
    hashes: dict[str, str] = {}
    #: For an entry added by file: why it has no PDQ (not decodable, not an image), or null.
    image_error: str | None = None


@dataclass
class ServiceState:
    """What one worker holds: the bank (one connection, so one lock) for changes, a second,
    read-only connection (`reader`, its own lock) for matching and keys, the matcher, and the
    pools that keep work off the event loop.

    With no `reader` both roles share `bank` and its lock, as before: matching then waits
    behind this worker's writes."""

    settings: ServiceSettings
    bank: BankStore
    reader: BankStore | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        reader = self.reader or self.bank
        self.read_lock = threading.Lock() if self.reader is not None else self.lock
        self.matcher = BankMatcher(reader, threshold=self.settings.threshold)
        self.refreshed = time.time()
        self.keys = KeyRing(reader, self.read_lock)
        self.limiter = RateLimiter()
        self.banks = NamedBanks(self.bank)
        self.match_banks = NamedBanks(reader)
        self.metrics = Metrics()
        self.privacy = NearMatchPrivacy(self.bank, self.settings.privacy, self.settings.threshold)
        #: Named banks' thresholds as shown for a near match (the service's when unset).
        self._shown: dict[str, int] = {}
        self.engine = ActionEngine(self.bank, lock=self.lock, settings=self.settings.webhooks)
        self.actions = ActionQueue(
            self.engine,
            self.metrics,
            wait_s=self.settings.action_wait_s,
            capacity=self.settings.action_queue,
        )
        self.decodes = DecodePool(
            self.settings.max_decodes, self.settings.decode_queue, self.metrics
        )

    @contextmanager
    def locked(self) -> Iterator[BankStore]:
        with self.lock:
            yield self.bank

    @contextmanager
    def reading(self) -> Iterator[BankStore]:
        """The connection matching reads through (never waits for a write lock)."""
        with self.read_lock:
            yield self.reader or self.bank

    def match(
        self,
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None = None,
        *,
        only: set[str] | None = None,
        coinflip: float | None = None,
        viewer: ApiKey | None = None,
    ) -> tuple[Resolved, list[str]]:
        """Apply the bank's changes since the last request (from any worker or replica), then
        match and resolve the named banks. Reads only: a write lock held elsewhere (a long
        import) does not stop it (SQLite's readers in WAL mode, PostgreSQL's MVCC). For a
        `viewer` that may not read the bank, near matches are decided with the noisy edge and
        its queries watched (`privacy`); the matches returned keep their true distances (for
        the action rules)."""
        private = viewer if viewer is not None and not viewer.may("read") else None
        with self.read_lock:
            if private is not None:
                self._refuse_if_suspended(private)
            self.matcher.refresh()
            self.refreshed = time.time()
            result = self.matcher.match(
                signals,
                pdq_quality=quality,
                pdq_variants=variants,
                threshold=None if private is None else self.privacy.radius,
            )
            matches = result.matches
            if private is not None:
                queries = {"original": signals.get("pdq", ""), **(variants or {})}
                matches = self._decide_privately(private, matches, queries)
            resolved = self.match_banks.resolve(matches, only=only, coinflip=coinflip)
            if private is not None:
                truth = {(m.entry, m.kind): m for m in result.matches}
                resolved.matches = [
                    BankMatch(truth[(found.match.entry, found.match.kind)], found.banks)
                    for found in resolved.matches
                ]
                if any(found.match.distance for found in resolved.matches):
                    self._shown = {
                        b.name: min(b.threshold, self.settings.threshold)
                        for b in self.match_banks.all()
                        if b.threshold is not None
                    }
        self.metrics.matched(len(resolved.matches))
        return resolved, result.known_good

    def match_and_act(
        self,
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None = None,
        *,
        only: set[str] | None = None,
        viewer: ApiKey | None = None,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
    ) -> tuple[Resolved, list[str]]:
        """`match`, then hand its actions to the queue, waiting for them only briefly."""
        resolved, known_good = self.match(signals, quality, variants, only=only, viewer=viewer)
        self.actions.record(
            resolved.matches, signals, uploader_ref=uploader_ref, incident_time=incident_time
        )
        return resolved, known_good

    def match_raw(
        self, signals: dict[str, str], viewer: ApiKey
    ) -> tuple[list[Match], dict[int, list[tuple[str, str | None]]]]:
        """Every match and the named banks of its entry, ignoring the banks' state (HMA's raw
        look-up); near matches decided as in `match` for a viewer that may not read."""
        private = not viewer.may("read")
        with self.read_lock:
            if private:
                self._refuse_if_suspended(viewer)
            self.matcher.refresh()
            self.refreshed = time.time()
            radius = self.privacy.radius if private else None
            matches = self.matcher.match(signals, threshold=radius).matches
            if private:
                decided = self._decide_privately(
                    viewer, matches, {"original": signals.get("pdq", "")}
                )
                kept = {(m.entry, m.kind) for m in decided}
                matches = [m for m in matches if (m.entry, m.kind) in kept]
            members = self.match_banks.memberships(sorted({m.entry for m in matches}))
        return matches, members

    def _decide_privately(
        self, viewer: ApiKey, matches: list[Match], queries: dict[str, str]
    ) -> list[Match]:
        self.privacy.watch(viewer.name, matches, queries, self._lowest_thresholds)
        return self.privacy.decide(matches, queries)

    def _lowest_thresholds(self, entry_ids: list[int]) -> dict[int, int]:
        """Each entry's lowest threshold: the service's, or a stricter named bank's."""
        members = self.match_banks.memberships(entry_ids)
        own = {b.name: b.threshold for b in self.match_banks.all() if b.threshold is not None}
        return {
            entry: min(
                [self.settings.threshold]
                + [own[name] for name, _ in members.get(entry, []) if name in own]
            )
            for entry in entry_ids
        }

    def _refuse_if_suspended(self, viewer: ApiKey) -> None:
        until = self.privacy.suspended_until(viewer.name)
        if until is None:
            return
        left = parse_utc(until) - datetime.now(UTC)
        raise HTTPException(
            429,
            f"key {viewer.name!r} is suspended until {until} for probing: too many distinct"
            " queries near one banked entry's match threshold (an admin can lift it:"
            f" DELETE /v1/match/suspensions/{viewer.name})",
            headers={"Retry-After": str(max(1, int(left.total_seconds())))},
        )

    def shown_distance(self, found: BankMatch, bank: str | None = None) -> int:
        """The distance a key that may not read the bank sees: 0 for an exact match, else the
        threshold the match was within (`bank`'s, or the strictest of its banks')."""
        if found.match.distance == 0:
            return 0
        names = [bank] if bank is not None else found.banks
        service = self.settings.threshold
        return min([self._shown.get(name, service) for name in names] or [service])

    def close(self) -> None:
        """Stop the background work: queued actions are written first (for a while)."""
        self.actions.close()
        self.decodes.close()
        self.engine.close()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def requirement(state: ServiceState, permission: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A FastAPI dependency: the caller's key, which must allow `permission` (401/403/429)."""

    async def check(request: Request) -> ApiKey:  # async: no thread hop for a cache hit
        token = _bearer(request)
        key: ApiKey | None
        if token is None:
            role = state.settings.keyless_role
            if role is None:
                raise HTTPException(401, "an API key is needed: Authorization: Bearer KEY")
            key = ApiKey("keyless", role, state.settings.default_rate_per_minute, "")
        else:
            known, key = state.keys.cached(token)
            if not known:  # the bank is asked in a thread, never on the event loop
                key = await run_in_threadpool(state.keys.find, token)
            if key is None:
                raise HTTPException(401, "unknown or revoked API key")
        if not key.may(permission):
            raise HTTPException(403, f"the {key.role} role may not {permission}")
        rate = key.rate_per_minute or state.settings.default_rate_per_minute
        if rate is not None:
            wait = state.limiter.allow(key.name, rate)
            if wait is not None:
                raise HTTPException(
                    429,
                    f"rate limit of {rate} a minute reached",
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
        request.state.key_name = key.name
        return key

    return check


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, in memory, refusing more than `limit` bytes (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"upload over {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"upload over {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def hash_upload(state: ServiceState, request: Request) -> ContentHashes:
    """Read the body on the loop; split, hash and decode it in the decode pool under the time
    limit; drop the bytes. An image over the pixel cap is 413; an upload whose image matching
    is skipped is counted by reason (`skipped_reason` says why, for the answer)."""
    body = await read_limited(request, state.settings.max_upload_bytes)
    settings = state.settings
    hashes = await state.decodes.hash(
        request.headers.get("content-type", ""),
        body,
        max_parts=settings.max_multipart_parts,
        max_pixels=settings.max_upload_pixels,
        timeout_s=settings.request_timeout_s,
    )
    del body
    skipped = skipped_reason(hashes)
    if skipped is not None:
        state.metrics.undecodable.labels(skipped[0]).inc()
        if hashes.image_over_limit:
            raise HTTPException(413, hashes.image_error)
    return hashes


def image_error(hashes: ContentHashes) -> str | None:
    """Why image matching was skipped for this upload, for its answer."""
    skipped = skipped_reason(hashes)
    return None if skipped is None else skipped[1]


async def json_body(request: Request) -> Any:
    """A JSON body (capped by the app's body limit) parsed in the thread pool: 400 when it is
    not JSON or nested too deeply, never a 500."""
    return await run_in_threadpool(parse_json, await request.body())


def clean_signals(signals: dict[str, str]) -> dict[str, str]:
    """Hash values checked against their kinds (422 naming the wrong one)."""
    registry = default_registry()
    clean = {}
    for kind, value in signals.items():
        try:
            clean[kind] = registry.get(kind).normalize(value)
        except HashwardenError as exc:
            raise HTTPException(422, str(exc)) from exc
    if not clean:
        raise HTTPException(422, "no signals given")
    return clean


def match_response(
    signals: dict[str, str],
    resolved: Resolved,
    known_good: list[str],
    key: ApiKey,
    shown_distance: Callable[[BankMatch], int] | None = None,
) -> MatchResponse:
    """Matches as JSON; a key that may not read the bank never sees a banked hash it did not
    send (a near match's value is left out), nor a near match's exact distance (it sees
    `shown_distance`: the threshold the match was within)."""
    out = []
    for bank_match in resolved.matches:
        m = bank_match.match
        reads = key.may("read")
        value = m.value if reads or m.distance == 0 else ""
        distance = m.distance if reads or shown_distance is None else shown_distance(bank_match)
        fields = {**m.to_json(), "value": value, "distance": distance, "banks": bank_match.banks}
        out.append(BankMatchOut(**fields))
    return MatchResponse(
        hashes=signals, matches=out, known_good=known_good, suppressed_by=resolved.suppressed_by
    )


def _entry_out(entry: Any, disabled_until: str | None = None) -> EntryOut:
    return EntryOut(
        id=entry.id,
        signals={s.kind: s.value for s in entry.signals},
        category=entry.category,
        series=entry.series,
        victim_identified=entry.victim_identified,
        source=entry.source,
        note=entry.note,
        added=entry.added,
        disabled_until=disabled_until,
    )


def add_hashes(
    state: ServiceState, bank_name: str, signals: dict[str, str], fields: dict[str, Any], actor: str
) -> AddedOut:
    """Add one entry to a named bank; hashes that overlap an entry merge into it (its id is
    answered), hashes of two different entries are a ConflictError (409) naming both."""
    registry = default_registry()
    with state.locked() as bank:
        state.banks.get(bank_name)
        entry = NewEntry(
            [registry.signal(kind, value) for kind, value in signals.items()],
            category=parse_category(fields.get("category") or "uncategorised"),
            series=fields.get("series"),
            victim_identified=bool(fields.get("victim_identified")),
            source=actor,
            note=fields.get("note"),
        )
        result = bank.entries.add_many([entry], actor=actor, action="entry.add")
        ids = result.added or result.matched
        state.banks.add_members(bank_name, ids, actor=actor)
    return AddedOut(ids=ids, duplicates=result.duplicates, hashes=signals)


def _require_in_bank(state: ServiceState, bank: BankStore, name: str, entry_id: int) -> None:
    """404 unless the entry is in the named bank (`default`: in none); caller holds the lock."""
    if name == DEFAULT_BANK:
        bank.entries.get(entry_id)
        if state.banks.memberships([entry_id]):
            raise NotFoundError(f"entry {entry_id} is not in bank {name!r}")
        return
    state.banks.get(name)
    if name not in {b for b, _ in state.banks.memberships([entry_id]).get(entry_id, [])}:
        raise NotFoundError(f"entry {entry_id} is not in bank {name!r}")


class Observe:
    """Metrics and one structured log line a request: method, route template, status, time and
    key name; never the client's address, the query or any content. Plain ASGI (Starlette's
    `BaseHTTPMiddleware` costs more than a whole hash look-up)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.request(scope["method"], template, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                key = (scope.get("state") or {}).get("key_name")
                line = {
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "key": key,
                }
                log.info(json.dumps(line))


def _reader_for(store: BankStore) -> BankStore | None:
    """A second, read-only connection to the bank for matching, or None (share `store`) when
    it cannot be opened again from its location (a PostgreSQL DSN whose password was taken out
    of it: pass `reader=` to `create_app`, or give the password by PGPASSWORD)."""
    try:
        return open_bank(store.location, readonly=True)
    except HashwardenError as exc:
        log.warning("matching shares the bank's one connection: %s", exc)
        return None


def create_app(
    settings: ServiceSettings, store: BankStore, *, reader: BankStore | None = None
) -> FastAPI:
    """Build the app; starts no background work (the server lifespan owns that; the action
    and decode threads start with the first request that needs them). `reader` is a second
    connection to the same bank for matching; without one the app opens it (and closes it
    with the app)."""
    from hashwarden.service.console import console_router
    from hashwarden.service.hma import hma_router

    owned = _reader_for(store) if reader is None else None
    state = ServiceState(settings, store, reader=reader or owned)
    engine = state.engine
    if owned is not None:
        weakref.finalize(state, owned.close)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Sends the webhook outbox in the background while the server runs; at the end,
        writes the actions still queued."""
        worker = WebhookWorker(engine)
        worker.start()
        # The first request must not pay for thread starts and lazy imports on the loop.
        await run_in_threadpool(time.time)
        await state.decodes.warm_up()
        try:
            yield
        finally:
            await asyncio.to_thread(worker.stop)
            await asyncio.to_thread(state.close)

    app = FastAPI(
        title="hashwarden match service",
        version="0.2",
        description="Hash and match uploads against known hashes; manage named banks. "
        "Send `Authorization: Bearer KEY` (see `hashwarden apikey create`).",
        lifespan=lifespan,
        # Interactive docs would load their scripts from a public CDN: off. The description
        # stays at /openapi.json for any local viewer.
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_json_bytes,
    )
    app.state.hashwarden = state

    # The caller's key, checked for one permission (defaults, since annotations are strings).
    need = {p: Depends(requirement(state, p)) for p in ("match", "read", "write", "export", "vote")}

    @app.exception_handler(HashwardenError)
    async def hashwarden_error(request: Request, exc: HashwardenError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    # --- matching ---------------------------------------------------------------------------

    upload_limit = settings.max_upload_bytes

    @app.post(
        "/v1/match/upload",
        response_model=MatchResponse,
        tags=["matching"],
        max_body_size=upload_limit,
    )
    async def match_upload(
        request: Request,
        key: ApiKey = need["match"],
        banks: Annotated[str | None, Query(description="Comma-separated bank names")] = None,
        uploader_ref: Annotated[str | None, Query(max_length=256)] = None,
        incident_time: Stampable | None = None,
    ) -> MatchResponse:
        """Hash the upload (raw body or one multipart file) in memory and match it.
        `uploader_ref` and `incident_time` go into the report drafts and webhooks it sets off.
        `image_error` says why image matching was skipped, if it was."""
        hashes = await hash_upload(state, request)
        signals = hashes.signals()
        only = set(banks.split(",")) if banks else None
        resolved, known_good = await run_in_threadpool(
            state.match_and_act,
            signals,
            hashes.pdq_quality,
            hashes.pdq_variants,
            only=only,
            viewer=key,
            uploader_ref=uploader_ref,
            incident_time=incident_time,
        )
        answer = match_response(signals, resolved, known_good, key, state.shown_distance)
        answer.image_error = image_error(hashes)
        return answer

    @app.post("/v1/match/hashes", response_model=MatchResponse, tags=["matching"])
    async def match_hashes(body: HashesIn, key: ApiKey = need["match"]) -> MatchResponse:
        """Match hashes computed by the client."""
        signals = clean_signals(body.signals)
        resolved, known_good = await run_in_threadpool(
            state.match_and_act,
            signals,
            body.pdq_quality,
            viewer=key,
            uploader_ref=body.uploader_ref,
            incident_time=body.incident_time,
        )
        return match_response(signals, resolved, known_good, key, state.shown_distance)

    # --- banks and entries --------------------------------------------------------------------

    @app.get("/v1/banks", tags=["banks"])
    def list_banks(key: ApiKey = need["read"]) -> list[dict[str, Any]]:
        with state.locked():
            return [b.to_json() for b in state.banks.all()]

    @app.post("/v1/banks", status_code=201, tags=["banks"])
    def create_bank(body: BankIn, key: ApiKey = need["write"]) -> dict[str, Any]:
        with state.locked():
            bank = state.banks.create(
                body.name,
                threshold=body.threshold,
                negative=body.negative,
                enabled_ratio=body.matching_enabled_ratio,
                note=body.note,
                actor=key.name,
            )
        return bank.to_json()

    @app.get("/v1/banks/{name}", tags=["banks"])
    def get_bank(name: str, key: ApiKey = need["read"]) -> dict[str, Any]:
        with state.locked():
            return state.banks.get(name).to_json()

    @app.patch("/v1/banks/{name}", tags=["banks"])
    def update_bank(name: str, body: BankPatch, key: ApiKey = need["write"]) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if "matching_enabled_ratio" in changes:
            changes["enabled_ratio"] = changes.pop("matching_enabled_ratio")
        if changes.get("disabled_until") == "":
            changes["disabled_until"] = None
        if any(v is None for k, v in changes.items() if k in ("negative", "enabled_ratio")):
            raise HTTPException(422, "negative and matching_enabled_ratio cannot be null")
        with state.locked():
            return state.banks.update(name, changes, actor=key.name).to_json()

    @app.delete("/v1/banks/{name}", status_code=204, tags=["banks"])
    def delete_bank(name: str, key: ApiKey = need["write"]) -> Response:
        with state.locked():
            state.banks.delete(name, actor=key.name)
        return Response(status_code=204)

    @app.post("/v1/banks/{name}/entries", response_model=AddedOut, status_code=201, tags=["banks"])
    def add_entry(name: str, body: EntryIn, key: ApiKey = need["write"]) -> AddedOut:
        """Add an entry by its hashes."""
        signals = clean_signals(body.signals)
        return add_hashes(state, name, signals, body.model_dump(), key.name)

    @app.post(
        "/v1/banks/{name}/entries/upload",
        response_model=AddedOut,
        status_code=201,
        tags=["banks"],
        max_body_size=upload_limit,
    )
    async def add_entry_by_file(
        name: str,
        request: Request,
        key: ApiKey = need["write"],
        category: str = "uncategorised",
        series: str | None = None,
        note: str | None = None,
    ) -> AddedOut:
        """Add an entry by a file (raw body or one multipart file), hashed in memory;
        `image_error` says why it has no PDQ, if it has none."""
        hashes = await hash_upload(state, request)
        signals = {k: v for k, v in hashes.signals().items() if k in ("md5", "sha1", "sha256")}
        if hashes.pdq is not None and (hashes.pdq_quality or 0) >= 50:
            signals["pdq"] = hashes.pdq
        fields = {"category": category, "series": series, "note": note}
        added = await run_in_threadpool(add_hashes, state, name, signals, fields, key.name)
        added.image_error = image_error(hashes)
        return added

    @app.get("/v1/banks/{name}/entries", response_model=list[EntryOut], tags=["banks"])
    def list_entries(
        name: str,
        key: ApiKey = need["read"],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[EntryOut]:
        """A page of a bank's entries with their hashes, in id order (`after`: last id seen)."""
        with state.locked() as bank:
            if name == DEFAULT_BANK:
                raise HTTPException(422, "list the default bank with `hashwarden bank export`")
            members = state.banks.members(name, limit=limit, after=after)
            entries = bank.entries.by_id([i for i, _ in members])
        return [_entry_out(entries[i], until) for i, until in members if i in entries]

    @app.get("/v1/banks/{name}/export", tags=["banks"])
    def export_bank(name: str, key: ApiKey = need["export"]) -> Response:
        """Every entry of a named bank as JSON lines (for peers and curators)."""
        lines = []
        with state.locked() as bank:
            after = 0
            while True:
                members = state.banks.members(name, limit=1000, after=after)
                if not members:
                    break
                entries = bank.entries.by_id([i for i, _ in members])
                lines += [_entry_out(entries[i], u).model_dump_json() for i, u in members]
                after = members[-1][0]
        return Response(
            "\n".join(lines) + ("\n" if lines else ""), media_type="application/x-ndjson"
        )

    @app.get("/v1/entries/{entry_id}", response_model=EntryOut, tags=["banks"])
    def get_entry(entry_id: EntryId, key: ApiKey = need["read"]) -> EntryOut:
        with state.locked() as bank:
            return _entry_out(bank.entries.get(entry_id))

    @app.patch("/v1/banks/{name}/entries/{entry_id}", response_model=EntryOut, tags=["banks"])
    def update_entry(
        name: str, entry_id: EntryId, body: EntryPatch, key: ApiKey = need["write"]
    ) -> EntryOut:
        """Change an entry's category, series or note, or disable it in this bank until a time.
        404, changing nothing, unless the entry is in that bank."""
        changes = body.model_dump(exclude_unset=True)
        until = changes.pop("disabled_until", None) if "disabled_until" in changes else ...
        with state.locked() as bank:
            _require_in_bank(state, bank, name, entry_id)
            if changes:
                if "category" in changes:
                    if changes["category"] is None:
                        raise HTTPException(422, "category cannot be null")
                    changes["category"] = parse_category(changes["category"])
                bank.entries.update(entry_id, actor=key.name, **changes)
            if until is not ...:
                state.banks.disable_member(name, entry_id, until or None, actor=key.name)
            memberships = dict(state.banks.memberships([entry_id]).get(entry_id, []))
            return _entry_out(bank.entries.get(entry_id), memberships.get(name))

    @app.delete("/v1/banks/{name}/entries/{entry_id}", status_code=204, tags=["banks"])
    def remove_entry(name: str, entry_id: EntryId, key: ApiKey = need["write"]) -> Response:
        """Take an entry out of a named bank; it leaves the bank when no named bank holds it."""
        with state.locked() as bank:
            state.banks.remove_member(name, entry_id, actor=key.name)
            if not state.banks.memberships([entry_id]):
                bank.entries.remove(entry_id, actor=key.name)
        return Response(status_code=204)

    @app.post("/v1/entries/{entry_id}/votes", tags=["banks"])
    def vote(entry_id: EntryId, body: VoteIn, key: ApiKey = need["vote"]) -> dict[str, Any]:
        """Confirm or dispute an entry; kept with the voting key's name."""
        with state.locked() as bank:
            category = bank.provenance.vote(
                entry_id, key.name, body.vote, reason=body.reason, actor=key.name
            )
        return {"id": entry_id, "vote": body.vote, "by": key.name, "category": category}

    # --- operations ---------------------------------------------------------------------------

    @app.get("/v1/status", tags=["operations"])
    def status_json() -> dict[str, Any]:
        """Index loaded, its age (seconds since it last caught up with the bank), bank size."""
        with state.reading() as bank:
            entries = bank.entries.count()
        return {
            "index_loaded": True,
            "index_age_s": round(time.time() - state.refreshed, 3),
            "pdq_hashes": len(state.matcher.pdq_index),
            "bank_size": entries,
            "uptime_s": round(time.time() - state.started, 1),
        }

    @app.get("/status", tags=["operations"], response_model=None)
    async def status(request: Request) -> Any:
        """HMA's health check ("I-AM-ALIVE", answered on the loop without a thread), or
        `/v1/status` as JSON when asked for it."""
        if "application/json" in request.headers.get("accept", ""):
            return await run_in_threadpool(status_json)
        return PlainTextResponse("I-AM-ALIVE")

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus metrics of this worker."""
        state.metrics.index_size(len(state.matcher.pdq_index), time.time() - state.refreshed)
        body, content_type = state.metrics.render()
        return PlainTextResponse(body, media_type=content_type)

    app.include_router(hma_router(state, need))
    # Action rules need the admin permission, report drafts the review permission.
    permission = {"admin": "admin", "reviewer": "review"}
    app.include_router(actions_router(engine, lambda role: requirement(state, permission[role])))
    app.include_router(
        privacy_router(state.privacy, state.lock, lambda role: requirement(state, "admin"))
    )
    app.include_router(console_router())
    app.add_middleware(Observe, metrics=state.metrics)
    return app
