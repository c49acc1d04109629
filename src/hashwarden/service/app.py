"""FastAPI application: hash uploads in memory, match them against the bank's named banks, and
manage those banks, for platforms that put it in front of their uploads.

Uploads are read from the raw request stream into memory with a size limit, and multipart bodies
are split in memory too, so nothing ever spools content to a temporary file; the bytes are
dropped after hashing. Every route but `/status` and `/metrics` needs an API key
(`Authorization: Bearer KEY`) whose role allows it (see `keys.PERMISSIONS`), unless the
deployment grants a role to keyless requests (`keyless_role`, for HMA clients behind the
platform's own gateway).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from hashwarden._time import parse_utc
from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import HashwardenError
from hashwarden.index.matcher import BankMatcher, Match
from hashwarden.service.actions import ActionEngine, DeliverySettings, WebhookWorker
from hashwarden.service.actions_api import actions_router
from hashwarden.service.banks import DEFAULT_BANK, BankMatch, NamedBanks, Resolved
from hashwarden.service.keys import ApiKey, KeyRing, RateLimiter
from hashwarden.service.metrics import Metrics
from hashwarden.service.privacy import MatchPrivacy, NearMatchPrivacy, privacy_router
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes, hash_bytes

__all__ = ["ServiceSettings", "ServiceState", "create_app"]

log = logging.getLogger("hashwarden.service")


EntryId = Annotated[int, PathParam(ge=1, le=2**62)]


@dataclass(frozen=True)
class ServiceSettings:
    """Service limits and access; `from_env` reads `HASHWARDEN_*` variables."""

    max_upload_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 30.0
    threshold: int = 31
    #: A role granted to requests that carry no key (off by default).
    keyless_role: str | None = None
    #: Rate for keys created without one (requests a minute; None: unlimited).
    default_rate_per_minute: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    webhooks: DeliverySettings = field(default_factory=DeliverySettings)
    #: What keys that may not read the bank learn from near matches (see `privacy`).
    privacy: MatchPrivacy = field(default_factory=MatchPrivacy)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        rate = os.environ.get("HASHWARDEN_DEFAULT_RATE_PER_MINUTE")
        return cls(
            max_upload_bytes=int(
                os.environ.get("HASHWARDEN_MAX_UPLOAD_BYTES", cls.max_upload_bytes)
            ),
            request_timeout_s=float(
                os.environ.get("HASHWARDEN_REQUEST_TIMEOUT_S", cls.request_timeout_s)
            ),
            threshold=int(os.environ.get("HASHWARDEN_THRESHOLD", cls.threshold)),
            keyless_role=os.environ.get("HASHWARDEN_KEYLESS_ROLE") or None,
            default_rate_per_minute=int(rate) if rate else None,
            webhooks=DeliverySettings.from_env(),
            privacy=MatchPrivacy.from_env(),
        )


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


class HashesIn(BaseModel):
    """Hashes computed by the client."""

    signals: dict[str, str]
    pdq_quality: int | None = None
    #: For actions: the platform's reference to the uploader and when the upload happened.
    uploader_ref: str | None = Field(default=None, max_length=256)
    incident_time: datetime | None = None


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
    disabled_until: str | None = Field(None, description="ISO 8601; empty string: enable now")
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
    disabled_until: str | None = Field(
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


@dataclass
class ServiceState:
    """What one worker holds: the bank (one connection, so one lock), its matcher, keys."""

    settings: ServiceSettings
    bank: BankStore
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.matcher = BankMatcher(self.bank, threshold=self.settings.threshold)
        self.refreshed = time.time()
        self.keys = KeyRing(self.bank, self.lock)
        self.limiter = RateLimiter()
        self.banks = NamedBanks(self.bank)
        self.metrics = Metrics()
        self.privacy = NearMatchPrivacy(self.bank, self.settings.privacy, self.settings.threshold)
        #: Named banks' thresholds as shown for a near match (the service's when unset).
        self._shown: dict[str, int] = {}

    @contextmanager
    def locked(self) -> Iterator[BankStore]:
        with self.lock:
            yield self.bank

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
        match and resolve the named banks. For a `viewer` that may not read the bank, near
        matches are decided with the noisy edge and its queries watched (`privacy`); the
        matches returned keep their true distances (for the action rules)."""
        private = viewer if viewer is not None and not viewer.may("read") else None
        with self.lock:
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
            resolved = self.banks.resolve(matches, only=only, coinflip=coinflip)
            if private is not None:
                truth = {(m.entry, m.kind): m for m in result.matches}
                resolved.matches = [
                    BankMatch(truth[(found.match.entry, found.match.kind)], found.banks)
                    for found in resolved.matches
                ]
                if any(found.match.distance for found in resolved.matches):
                    self._shown = {
                        b.name: min(b.threshold, self.settings.threshold)
                        for b in self.banks.all()
                        if b.threshold is not None
                    }
        self.metrics.matched(len(resolved.matches))
        return resolved, result.known_good

    def match_raw(
        self, signals: dict[str, str], viewer: ApiKey
    ) -> tuple[list[Match], dict[int, list[tuple[str, str | None]]]]:
        """Every match and the named banks of its entry, ignoring the banks' state (HMA's raw
        look-up); near matches decided as in `match` for a viewer that may not read."""
        private = not viewer.may("read")
        with self.lock:
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
            members = self.banks.memberships(sorted({m.entry for m in matches}))
        return matches, members

    def _decide_privately(
        self, viewer: ApiKey, matches: list[Match], queries: dict[str, str]
    ) -> list[Match]:
        self.privacy.watch(viewer.name, matches, queries, self._lowest_thresholds)
        return self.privacy.decide(matches, queries)

    def _lowest_thresholds(self, entry_ids: list[int]) -> dict[int, int]:
        """Each entry's lowest threshold: the service's, or a stricter named bank's."""
        members = self.banks.memberships(entry_ids)
        own = {b.name: b.threshold for b in self.banks.all() if b.threshold is not None}
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
            key = state.keys.find(token)
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


def upload_content(request: Request, body: bytes) -> bytes:
    """The file in a raw body, or the one file part of a multipart/form-data body (split in
    memory by the standard library's MIME parser: nothing is spooled to disk)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    files = (
        [
            part
            for part in message.iter_parts()
            if part.get_param("filename", header="content-disposition") is not None
        ]
        if message.is_multipart()
        else []
    )
    if len(files) != 1:
        raise HTTPException(422, f"a multipart upload must hold exactly one file, not {len(files)}")
    payload = files[0].get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


async def hash_upload(state: ServiceState, request: Request) -> ContentHashes:
    """Read, hash in a worker thread under the time limit, and drop the bytes."""
    body = await read_limited(request, state.settings.max_upload_bytes)
    data = upload_content(request, body)
    del body
    if not data:
        raise HTTPException(422, "the upload is empty")
    try:
        hashes = await asyncio.wait_for(
            asyncio.to_thread(hash_bytes, data, variants=True), state.settings.request_timeout_s
        )
    except TimeoutError as exc:
        raise HTTPException(503, "hashing took too long") from exc
    del data
    return hashes


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


def create_app(settings: ServiceSettings, store: BankStore) -> FastAPI:
    """Build the app; starts no background work (the server lifespan owns that)."""
    from hashwarden.service.hma import hma_router

    state = ServiceState(settings, store)
    engine = ActionEngine(store, lock=state.lock, settings=settings.webhooks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Sends the webhook outbox in the background while the server runs."""
        worker = WebhookWorker(engine)
        worker.start()
        try:
            yield
        finally:
            await asyncio.to_thread(worker.stop)
            engine.close()

    app = FastAPI(
        title="hashwarden match service",
        version="0.2",
        description="Hash and match uploads against known hashes; manage named banks. "
        "Send `Authorization: Bearer KEY` (see `hashwarden apikey create`).",
        lifespan=lifespan,
    )
    app.state.hashwarden = state

    # The caller's key, checked for one permission (defaults, since annotations are strings).
    need = {p: Depends(requirement(state, p)) for p in ("match", "read", "write", "export", "vote")}

    @app.exception_handler(HashwardenError)
    async def hashwarden_error(request: Request, exc: HashwardenError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    # --- matching ---------------------------------------------------------------------------

    @app.post("/v1/match/upload", response_model=MatchResponse, tags=["matching"])
    async def match_upload(
        request: Request,
        key: ApiKey = need["match"],
        banks: Annotated[str | None, Query(description="Comma-separated bank names")] = None,
        uploader_ref: Annotated[str | None, Query(max_length=256)] = None,
        incident_time: datetime | None = None,
    ) -> MatchResponse:
        """Hash the upload (raw body or one multipart file) in memory and match it.
        `uploader_ref` and `incident_time` go into the report drafts and webhooks it sets off."""
        hashes = await hash_upload(state, request)
        if hashes.image_error and hashes.pdq is None and not hashes.sha256:
            raise HTTPException(422, hashes.image_error)
        signals = hashes.signals()
        only = set(banks.split(",")) if banks else None
        resolved, known_good = await asyncio.to_thread(
            state.match, signals, hashes.pdq_quality, hashes.pdq_variants, only=only, viewer=key
        )
        await asyncio.to_thread(
            engine.on_match,
            resolved.matches,
            signals,
            uploader_ref=uploader_ref,
            incident_time=incident_time,
        )
        return match_response(signals, resolved, known_good, key, state.shown_distance)

    @app.post("/v1/match/hashes", response_model=MatchResponse, tags=["matching"])
    async def match_hashes(body: HashesIn, key: ApiKey = need["match"]) -> MatchResponse:
        """Match hashes computed by the client."""
        signals = clean_signals(body.signals)
        resolved, known_good = state.match(signals, body.pdq_quality, viewer=key)
        engine.on_match(
            resolved.matches,
            signals,
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
    )
    async def add_entry_by_file(
        name: str,
        request: Request,
        key: ApiKey = need["write"],
        category: str = "uncategorised",
        series: str | None = None,
        note: str | None = None,
    ) -> AddedOut:
        """Add an entry by a file (raw body or one multipart file), hashed in memory."""
        hashes = await hash_upload(state, request)
        signals = {k: v for k, v in hashes.signals().items() if k in ("md5", "sha1", "sha256")}
        if hashes.pdq is not None and (hashes.pdq_quality or 0) >= 50:
            signals["pdq"] = hashes.pdq
        fields = {"category": category, "series": series, "note": note}
        return await asyncio.to_thread(add_hashes, state, name, signals, fields, key.name)

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
        """Change an entry's category, series or note, or disable it in this bank until a time."""
        changes = body.model_dump(exclude_unset=True)
        until = changes.pop("disabled_until", None) if "disabled_until" in changes else ...
        with state.locked() as bank:
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
        with state.locked() as bank:
            entries = bank.entries.count()
        return {
            "index_loaded": True,
            "index_age_s": round(time.time() - state.refreshed, 3),
            "pdq_hashes": len(state.matcher.pdq_index),
            "bank_size": entries,
            "uptime_s": round(time.time() - state.started, 1),
        }

    @app.get("/status", tags=["operations"], response_model=None)
    def status(request: Request) -> Any:
        """HMA's health check ("I-AM-ALIVE"), or `/v1/status` as JSON when asked for it."""
        if "application/json" in request.headers.get("accept", ""):
            return status_json()
        return PlainTextResponse("I-AM-ALIVE")

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus metrics of this worker."""
        state.metrics.index_size(len(state.matcher.pdq_index), time.time() - state.refreshed)
        body, content_type = state.metrics.render()
        return PlainTextResponse(body, media_type=content_type)

    app.include_router(hma_router(state, need, engine))
    # Action rules need the admin permission, report drafts the review permission.
    permission = {"admin": "admin", "reviewer": "review"}
    app.include_router(actions_router(engine, lambda role: requirement(state, permission[role])))
    app.include_router(
        privacy_router(state.privacy, state.lock, lambda role: requirement(state, "admin"))
    )
    app.add_middleware(Observe, metrics=state.metrics)
    return app
