"""FastAPI application: hash uploads in memory and match them against a bank.

Uploads are read from the raw request stream into memory with a size limit, so neither Starlette
nor python-multipart ever spools content to a temporary file; the bytes are dropped after hashing.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from hashwarden.bank.sqlite import SqliteBank
from hashwarden.index.matcher import BankMatcher, Match, MatchResult
from hashwarden.service.actions import ActionEngine, DeliverySettings, WebhookWorker
from hashwarden.service.actions_api import actions_router
from hashwarden.signals.hashing import hash_bytes

__all__ = ["ServiceSettings", "create_app"]


@dataclass(frozen=True)
class ServiceSettings:
    """Service limits; `from_env` reads `HASHWARDEN_*` variables."""

    max_upload_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 30.0
    threshold: int = 31
    extra: dict[str, str] = field(default_factory=dict)
    webhooks: DeliverySettings = field(default_factory=DeliverySettings)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        return cls(
            max_upload_bytes=int(
                os.environ.get("HASHWARDEN_MAX_UPLOAD_BYTES", cls.max_upload_bytes)
            ),
            request_timeout_s=float(
                os.environ.get("HASHWARDEN_REQUEST_TIMEOUT_S", cls.request_timeout_s)
            ),
            threshold=int(os.environ.get("HASHWARDEN_THRESHOLD", cls.threshold)),
            webhooks=DeliverySettings.from_env(),
        )


class HashesIn(BaseModel):
    """Hashes submitted by a client that hashed the content itself."""

    signals: dict[str, str]
    pdq_quality: int | None = None
    #: For actions: the platform's reference to the uploader and when the upload happened.
    uploader_ref: str | None = Field(default=None, max_length=256)
    incident_time: datetime | None = None


class MatchResponse(BaseModel):
    hashes: dict[str, str]
    matches: list[Match]
    known_good: list[str]


class _MatcherSeam:
    """Applies the bank's changes (from any worker or replica) before each match: the
    matcher's incremental refresh, so an added or removed entry counts at once."""

    def __init__(self, store: SqliteBank, threshold: int) -> None:
        self.store = store
        self.matcher = BankMatcher(store, threshold=threshold)
        #: One database connection is shared by the worker's threads; serialise its use.
        self.lock = threading.Lock()

    def match(
        self, signals: dict[str, str], quality: int | None, variants: dict[str, str] | None = None
    ) -> MatchResult:
        with self.lock:
            self.matcher.refresh()
            return self.matcher.match(signals, pdq_quality=quality, pdq_variants=variants)


async def _read_limited(request: Request, limit: int) -> bytes:
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


def _no_auth(role: str) -> Callable[[], None]:
    """Until API keys land, every caller may use every route."""
    return lambda: None


def create_app(
    settings: ServiceSettings,
    store: SqliteBank,
    require: Callable[[str], Any] = _no_auth,
) -> FastAPI:
    """Build the app; starts no background work (the server lifespan owns that)."""
    seam = _MatcherSeam(store, settings.threshold)
    engine = ActionEngine(store, lock=seam.lock, settings=settings.webhooks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = WebhookWorker(engine)
        worker.start()
        try:
            yield
        finally:
            await asyncio.to_thread(worker.stop)
            engine.close()

    app = FastAPI(title="hashwarden match service", version="0.1", lifespan=lifespan)
    app.include_router(actions_router(engine, require))

    def respond(
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None = None,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
    ) -> MatchResponse:
        result = seam.match(signals, quality, variants)
        engine.on_match(
            result.matches, signals, uploader_ref=uploader_ref, incident_time=incident_time
        )
        return MatchResponse(
            hashes=signals,
            matches=result.matches,
            known_good=result.known_good,
        )

    @app.post("/v1/match/upload", response_model=MatchResponse)
    async def match_upload(
        request: Request,
        uploader_ref: Annotated[str | None, Query(max_length=256)] = None,
        incident_time: datetime | None = None,
    ) -> MatchResponse:
        """Hash the raw request body in memory and match it; the body is never stored.
        `uploader_ref` and `incident_time` go into the report drafts and webhooks a match
        sets off."""
        data = await _read_limited(request, settings.max_upload_bytes)
        try:
            hashes = await asyncio.wait_for(
                asyncio.to_thread(hash_bytes, data, variants=True), settings.request_timeout_s
            )
        except TimeoutError as exc:
            raise HTTPException(503, "hashing took too long") from exc
        del data
        if hashes.image_error and hashes.pdq is None and not hashes.sha256:
            raise HTTPException(422, hashes.image_error)
        # Off the event loop: matching and the actions' bank writes may wait on a lock.
        return await asyncio.to_thread(
            respond,
            hashes.signals(),
            hashes.pdq_quality,
            hashes.pdq_variants,
            uploader_ref,
            incident_time,
        )

    @app.post("/v1/match/hashes", response_model=MatchResponse)
    def match_hashes(body: HashesIn) -> MatchResponse:
        """Match hashes computed by the client."""
        clean: dict[str, Any] = {k: v.strip().lower() for k, v in body.signals.items()}
        return respond(clean, body.pdq_quality, None, body.uploader_ref, body.incident_time)

    @app.get("/status")
    def status() -> dict[str, Any]:
        return {"index_loaded": True, "bank_size": len(seam.matcher.pdq_index)}

    return app
