"""Operations: health (`/status` and `/status/live`, HMA's checks; `/livez` and `/readyz`),
the index's state (`/v1/status`), HMA's `/site-map` and Prometheus metrics (`/metrics`). None
needs a key; none shows content or keys."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from hashwarden.service.state import ServiceState, StateDep

__all__ = ["router"]

router = APIRouter(tags=["operations"])


def _status(state: ServiceState) -> dict[str, Any]:
    with state.reading() as bank:
        entries = bank.entries.count()
    return {
        "index_loaded": True,
        "index_age_s": round(time.time() - state.refreshed, 3),
        "pdq_hashes": len(state.matcher.pdq_index),
        "bank_size": entries,
        "uptime_s": round(time.time() - state.started, 1),
        "worker": os.getpid(),
    }


@router.get("/v1/status")
def status_json(state: StateDep) -> dict[str, Any]:
    """Index loaded, its age (seconds since it last caught up with the bank), bank size, and
    which worker process answered."""
    return _status(state)


@router.get("/status", response_model=None)
async def status(request: Request, state: StateDep) -> Any:
    """HMA's health check ("I-AM-ALIVE", answered on the loop without a thread), or
    `/v1/status` as JSON when asked for it."""
    if "application/json" in request.headers.get("accept", ""):
        return await run_in_threadpool(_status, state)
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/status/live", response_class=PlainTextResponse)
@router.get("/livez", response_class=PlainTextResponse)
async def live() -> PlainTextResponse:
    """Liveness: the process answers HTTP (on the loop, never behind a thread or the bank)."""
    return PlainTextResponse("I-AM-ALIVE")


def _bank_answers(state: ServiceState) -> bool:
    try:
        with state.reading() as bank:
            bank.db.query("SELECT 1")
    except Exception:  # any failure of the bank's connection is "not ready"
        return False
    return True


@router.get("/readyz", response_class=PlainTextResponse)
async def ready(state: StateDep) -> PlainTextResponse:
    """Readiness: the index is loaded (it is, once the app exists) and the bank answers;
    503 `BANK-UNREACHABLE` otherwise, as HMA's `/status` answers 503 before its index loads."""
    if not await run_in_threadpool(_bank_answers, state):
        return PlainTextResponse("BANK-UNREACHABLE", status_code=503)
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/site-map")
def site_map(request: Request) -> list[str]:
    """The API's paths (those of `/openapi.json`), sorted (HMA's `/site-map`)."""
    return sorted(request.app.openapi().get("paths", {}))


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus metrics: of this worker, or of all workers of this node under
    `serve --workers N`."""
    state.metrics.index(state.pdq_hashes, state.refreshed)
    body, content_type = state.metrics.render()
    return PlainTextResponse(body, media_type=content_type)
