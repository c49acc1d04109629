"""The FastAPI application: `create_app(settings, store)` wires the state, the routes of each
area (`routes/`), the one error mapper (`http_errors`), the fast lane for look-ups
(`fastlane`) and the per-request metrics and log line (`observe`).

Uploads are read from the raw request stream into memory with a size limit, and multipart bodies
are split in memory too, so nothing ever spools content to a temporary file; the bytes are
dropped after hashing. Every route but `/status`, `/v1/status` and `/metrics` needs an API key
(`Authorization: Bearer KEY`) whose role allows it (see `keys.PERMISSIONS`), unless the
deployment grants a role to keyless requests (`keyless_role`, for HMA clients behind the
platform's own gateway).

Nothing that can take long runs on the event loop: splitting, hashing and decoding run in a
bounded pool of threads (`offload.DecodePool`), bank calls and matches that found something in
the thread pool, and a match's actions are written by a background thread
(`offload.ActionQueue`), so a worker keeps answering while another request is parsed, decoded
or waits for the bank. Only a look-up in an index known to be current that finds nothing, or
(a raw look-up) needs no more than its matches' named banks, is answered on the loop
(`ServiceState.quick_match`, `quick_match_raw`). Matching reads the bank through a connection
of its own, so it never queues behind this worker's writes, which may wait for the bank's write
lock.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from hashwarden.bank import open_bank
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import HashwardenError
from hashwarden.service.actions import WebhookWorker
from hashwarden.service.auth import requirement
from hashwarden.service.fastlane import FastLane
from hashwarden.service.http_errors import install_error_handlers
from hashwarden.service.observe import Observe
from hashwarden.service.routes import alerts, banks, hashlookup, hma, match, operations, privacy
from hashwarden.service.routes.actions import actions_router
from hashwarden.service.routes.console import console_router
from hashwarden.service.settings import ServiceSettings
from hashwarden.service.state import ServiceState

__all__ = ["ServiceApp", "create_app"]

log = logging.getLogger("hashwarden.service")

#: The permission each role of the action routes needs.
_ACTION_PERMISSIONS = {"admin": "admin", "reviewer": "review"}


class ServiceApp(FastAPI):
    """FastAPI with the service's outer layers around its own middleware: `Observe` (metrics,
    log line) and `FastLane` (the two look-ups, answered without FastAPI's machinery)."""

    def build_middleware_stack(self) -> Any:
        state: ServiceState = self.state.hashwarden
        lane = FastLane(super().build_middleware_stack(), self, state.settings.max_json_bytes)
        return Observe(lane, state.metrics, log_every_request=state.settings.request_log == "all")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Requests skip FastAPI's native OpenTelemetry layer: its spans carry the client's
        address and the query string (a hash looked up) to whatever tracer the deployment
        configured, which this service never sends anywhere (docs/service.md); asking whether
        one is configured also cost 30 us a request, a tenth of a look-up."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.root_path:
            scope["root_path"] = self.root_path
        await Starlette.__call__(self, scope, receive, send)


def _reader_for(store: BankStore) -> BankStore | None:
    """A second, read-only connection to the bank for matching, or None (share `store`) when
    it cannot be opened again from its location (a PostgreSQL DSN whose password was taken out
    of it: pass `reader=` to `create_app`, or give the password by PGPASSWORD)."""
    try:
        return open_bank(store.location, readonly=True)
    except HashwardenError as exc:
        log.warning("matching shares the bank's one connection: %s", exc)
        return None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Sends the webhook outbox in the background while the server runs; at the end, writes
    the actions still queued."""
    state: ServiceState = app.state.hashwarden
    worker = WebhookWorker(state.engine)
    worker.start()
    # The first request must not pay for thread starts and lazy imports on the loop.
    await run_in_threadpool(time.time)
    await state.decodes.warm_up()
    # What start-up built lives as long as the worker: out of the collector's sight, a full
    # collection no longer walks it (tens of milliseconds, a request's whole tail budget).
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(state.close)


def create_app(
    settings: ServiceSettings, store: BankStore, *, reader: BankStore | None = None
) -> FastAPI:
    """Build the app; starts no background work (the server lifespan owns that; the action
    and decode threads start with the first request that needs them). `reader` is a second
    connection to the same bank for matching; without one the app opens it (and closes it
    with the app)."""
    owned = _reader_for(store) if reader is None else None
    state = ServiceState(settings, store, reader=reader or owned)
    if owned is not None:
        weakref.finalize(state, owned.close)
    app = ServiceApp(
        title="hashwarden match service",
        version="0.2",
        description="Hash and match uploads against known hashes; manage named banks. "
        "Send `Authorization: Bearer KEY` (see `hashwarden apikey create`).",
        lifespan=_lifespan,
        # Interactive docs would load their scripts from a public CDN: off. The description
        # stays at /openapi.json for any local viewer.
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_json_bytes,
    )
    app.state.hashwarden = state
    install_error_handlers(app)
    upload_limit = settings.max_upload_bytes
    app.include_router(match.uploads, max_body_size=upload_limit)
    app.include_router(match.router)
    app.include_router(banks.router)
    app.include_router(banks.uploads, max_body_size=upload_limit)
    app.include_router(operations.router)
    app.include_router(hma.router)
    app.include_router(hma.uploads, max_body_size=upload_limit)
    app.include_router(
        actions_router(state.engine, lambda role: requirement(_ACTION_PERMISSIONS[role]))
    )
    app.include_router(privacy.router)
    app.include_router(alerts.router)
    app.include_router(hashlookup.router)
    # The console reads every body itself, each within its own limit (`console.web`).
    app.include_router(console_router(), max_body_size=upload_limit)
    return app
