"""The two look-ups a platform makes for every upload, `GET /m/raw_lookup` and
`POST /v1/match/hashes`, answered without FastAPI's per-request machinery.

Measured per request (in process, no server, 1,000 banked hashes, a key in the cache): FastAPI's
middleware, dependency solving, parameter validation and response serialisation cost about
0.2 ms, and the hop to the thread pool as much again, where the look-up itself takes 0.2 ms
(0.4-0.6 ms at 1M hashes). So a request of the common, simple shape (known parameters of the
plain types, a JSON body within the size limit) is parsed here and answered by the same
functions the routes call (`raw_lookup_answer`, `match_hashes_answer`): the caller's key
checked by `auth.authenticate`, a hash that matches nothing (and a raw look-up's match) answered
on the event loop (`ServiceState.quick_match`, `quick_match_raw`), anything else matched in a
thread. Any other request, and every request this lane cannot parse, goes to the routes
unchanged (a body read here is handed on), so their validation and errors stay the routes' own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI
from starlette.types import Message, Receive, Scope, Send

from hashwarden.service.auth import authenticate
from hashwarden.service.http_errors import error_response
from hashwarden.service.routes import hma, match
from hashwarden.service.state import ServiceState

__all__ = ["FastLane"]

#: (scope, body) -> the parsed input, or None when the routes must parse it.
Parse = Callable[[Scope, bytes], Any]
#: (state, scope, parsed input) -> the answer's JSON value.
Answer = Callable[[ServiceState, Scope, Any], Awaitable[Any]]

_TRUE = {"true": True, "1": True, "false": False, "0": False}
_RAW_PARAMS = frozenset({"signal_type", "signal", "banks", "include_distance"})
_HASHES_FIELDS = frozenset({"signals", "pdq_quality", "uploader_ref"})
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _route(router: APIRouter, method: str, path: str) -> Any:
    """The route object the router would match, for the log line and the error mapper."""
    for route in router.routes:
        if getattr(route, "path", None) == path and method in getattr(route, "methods", ()):
            return route
    raise LookupError(f"no route {method} {path}")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _raw_lookup_input(scope: Scope, body: bytes) -> dict[str, Any] | None:
    """`signal_type`, `signal` and optionally `banks` and `include_distance`, each once."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= _RAW_PARAMS:
        return None
    if "signal_type" not in params or "signal" not in params:
        return None
    include = _TRUE.get(params.get("include_distance", "false"))
    if include is None:
        return None
    params["include_distance"] = include
    return params


async def _raw_lookup(state: ServiceState, scope: Scope, params: dict[str, Any]) -> Any:
    key = await authenticate(
        state, scope.setdefault("state", {}), _header(scope, b"authorization") or "", "match"
    )
    return await hma.raw_lookup_answer(
        state,
        key,
        params["signal_type"],
        params["signal"],
        params.get("banks"),
        params["include_distance"],
    )


def _hashes_input(scope: Scope, body: bytes) -> dict[str, Any] | None:
    """`{"signals": {kind: value}, "pdq_quality": int, "uploader_ref": str}` (the last two
    optional or null); an `incident_time` is parsed by the route."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not value.keys() <= _HASHES_FIELDS:
        return None
    signals = value.get("signals")
    if not isinstance(signals, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in signals.items()
    ):
        return None
    quality = value.get("pdq_quality")
    if quality is not None and (type(quality) is not int):
        return None
    ref = value.get("uploader_ref")
    if ref is not None and not (isinstance(ref, str) and len(ref) <= 256):
        return None
    return value


async def _match_hashes(state: ServiceState, scope: Scope, body: dict[str, Any]) -> Any:
    key = await authenticate(
        state, scope.setdefault("state", {}), _header(scope, b"authorization") or "", "match"
    )
    return await match.match_hashes_answer(
        state, key, body["signals"], body.get("pdq_quality"), body.get("uploader_ref")
    )


class FastLane:
    """Answers the two look-ups of the simple shape (see the module), hands every other
    request to `app` (the app's own middleware and routes)."""

    def __init__(self, app: Any, service: FastAPI, max_json_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_json_bytes = max_json_bytes
        self._lanes: dict[tuple[str, str], tuple[Parse, Answer, Any]] = {
            ("GET", "/m/raw_lookup"): (
                _raw_lookup_input,
                _raw_lookup,
                _route(hma.router, "GET", "/m/raw_lookup"),
            ),
            ("POST", "/v1/match/hashes"): (
                _hashes_input,
                _match_hashes,
                _route(match.router, "POST", "/v1/match/hashes"),
            ),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = (
            self._lanes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if lane is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        parse, answer, route = lane
        body = b""
        if scope["method"] == "POST":
            read = await self._json_body(scope, receive)
            if read is None:  # not ours to read: the routes read it
                await self.app(scope, receive, send)
                return
            body = read
        parsed = parse(scope, body)
        if parsed is None:
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = route
        state: ServiceState = self.service.state.hashwarden
        try:
            value = await answer(state, scope, parsed)
        except Exception as exc:
            errors = hma.hma_error_response if route in hma.router.routes else error_response
            await errors(exc)(scope, receive, send)
            return
        content = json.dumps(
            value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()
        headers = [(b"content-length", str(len(content)).encode()), *_JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _json_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body when it is JSON of a declared length within the app's limit (else
        None, read nothing)."""
        kind = (_header(scope, b"content-type") or "").lower()
        declared = _header(scope, b"content-length") or ""
        if kind.split(";")[0].strip() != "application/json" or not declared.isdigit():
            return None
        if int(declared) > self.max_json_bytes:
            return None
        parts: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left: the routes see the same
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the routes after the lane read the body: that body, then the client's."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
