"""CIRCL hashlookup's REST API under `/hashlookup/`, answered from the bank's entries and
known-good sets (`hashwarden.exchange.hashlookup`), so hashlookup's clients (`pyhashlookup`
with the key in its session's headers, plaso, Autopsy modules) ask this bank. A key that may
match but not read the bank sees of a banked hash only the hash it asked and its category."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from hashwarden.exchange.hashlookup import MAX_BULK, HashLookup
from hashwarden.service.auth import MatchKey
from hashwarden.service.state import ServiceState, StateDep

__all__ = ["MAX_BULK_BYTES", "router"]

router = APIRouter(prefix="/hashlookup", tags=["hashlookup"])

#: The key of a record found in the bank (not in a known-good set): a match, counted.
BANKED = "hashwarden:entry"
#: The largest bulk body read: MAX_BULK SHA-1s with their quotes, commas and some room.
MAX_BULK_BYTES = MAX_BULK * 48 + 4096


def _answer(state: ServiceState, ask: str, kind: str, value: Any, full: bool) -> JSONResponse:
    with state.reading() as bank:
        lookup = HashLookup(bank)
        if ask == "lookup":
            status, body = lookup.lookup(kind, value, full=full)
        elif ask == "bulk":
            status, body = lookup.bulk(kind, value, full=full)
        else:
            status, body = 200, lookup.info()
    if status == 200 and ask != "info":
        records = body if isinstance(body, list) else [body]
        state.tally.add(sum(BANKED in record for record in records))
    return JSONResponse(body, status_code=status)


@router.get("/lookup/{kind}/{value}")
async def lookup(kind: str, value: str, state: StateDep, key: MatchKey) -> JSONResponse:
    """Look an MD5, SHA-1 or SHA-256 up: the record (200), `Non existing ...` (404), or a
    malformed hash (400), as hashlookup answers."""
    return await run_in_threadpool(_answer, state, "lookup", kind, value, key.may("read"))


@router.post("/bulk/{kind}")
async def bulk(kind: str, request: Request, state: StateDep, key: MatchKey) -> JSONResponse:
    """`{"hashes": [...]}` of MD5s or SHA-1s: the records of those known, in order."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BULK_BYTES:
            return JSONResponse(
                {"message": f"at most {MAX_BULK} hashes in one request"}, status_code=413
            )
    try:
        payload = json.loads(bytes(body))
    except (ValueError, RecursionError):
        payload = None
    return await run_in_threadpool(_answer, state, "bulk", kind, payload, key.may("read"))


@router.get("/info")
async def info(state: StateDep, key: MatchKey) -> JSONResponse:
    """What this server answers from: the bank's entry count, its known-good sets' sizes."""
    return await run_in_threadpool(_answer, state, "info", "", None, True)
