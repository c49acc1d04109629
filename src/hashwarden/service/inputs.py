"""Reading and checking what a request carries: bodies within their limits, uploads hashed in
the decode pool, JSON parsed off the loop, hash values checked against their kinds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from hashwarden.errors import HashwardenError
from hashwarden.service.offload import form_fields, parse_json, skipped_reason
from hashwarden.service.state import ServiceState
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes

__all__ = [
    "clean_signals",
    "hash_upload",
    "hash_upload_with_fields",
    "image_error",
    "json_body",
    "read_limited",
]


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


async def hash_upload(
    state: ServiceState, request: Request, *, views: Sequence[str] = ()
) -> ContentHashes:
    """Read the body on the loop; split, hash and decode it (and the `views` of its picture)
    in the decode pool under the time limit; drop the bytes. An image over the pixel cap is 413; an upload whose image matching
    is skipped is counted by reason (`skipped_reason` says why, for the answer)."""
    hashes, _ = await hash_upload_with_fields(state, request, set(), views=views)
    return hashes


async def hash_upload_with_fields(
    state: ServiceState, request: Request, names: set[str], *, views: Sequence[str] = ()
) -> tuple[ContentHashes, dict[str, str]]:
    """`hash_upload`, and the multipart text fields `names` sent with the file (each at most
    64 KiB)."""
    body = await read_limited(request, state.settings.max_upload_bytes)
    settings = state.settings
    content_type = request.headers.get("content-type", "")
    fields = form_fields(content_type, body, names, 65536) if names else {}
    hashes = await state.decodes.hash(
        content_type,
        body,
        max_parts=settings.max_multipart_parts,
        max_pixels=settings.max_upload_pixels,
        timeout_s=settings.request_timeout_s,
        views=views,
    )
    del body
    skipped = skipped_reason(hashes)
    if skipped is not None:
        state.metrics.undecodable.labels(skipped[0]).inc()
        if hashes.image_over_limit:
            raise HTTPException(413, hashes.image_error)
    return hashes, fields


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
