"""The routes and answer shapes of Meta's Hasher-Matcher-Actioner (HMA 2, "OpenMediaMatch"), so a
client written against HMA works unchanged.

Differences, on purpose: hashwarden never fetches content from a URL (`GET /h/hash?url=` and
`GET /m/lookup?url=` answer 400: upload the file instead), and HMA's `video_md5` is our `md5`.
Keys and roles apply here too; an HMA client that sends no key needs the service's keyless
role (`--keyless-role matcher`, off by default). When image matching of an upload is skipped
(not decodable, not an image), the answer keeps HMA's shape and says why in the
`X-Hashwarden-Image-Error` header.
"""

from __future__ import annotations

import random
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from hashwarden.errors import ConflictError, HashwardenError
from hashwarden.index.pdq import pdq_distance
from hashwarden.service.app import (
    ServiceState,
    add_hashes,
    clean_signals,
    hash_upload,
    image_error,
    json_body,
)
from hashwarden.service.banks import DEFAULT_BANK, NamedBank
from hashwarden.service.keys import ApiKey
from hashwarden.signals.hashing import ContentHashes

__all__ = ["hma_router"]

#: HMA signal type names -> ours.
_KINDS = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}


def _kind(signal_type: str) -> str:
    return _KINDS.get(signal_type, signal_type)


def _bank_json(bank: NamedBank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": bank.enabled_ratio}


class HmaBankIn(BaseModel):
    name: str
    enabled_ratio: float | None = None
    enabled: bool | None = None


def _say_why(response: Response, hashes: ContentHashes) -> None:
    """Why image matching was skipped, in a header (HMA's answers are keyed by signal type)."""
    reason = image_error(hashes)
    if reason is not None:
        response.headers["X-Hashwarden-Image-Error"] = reason.encode("ascii", "replace").decode()


def hma_router(state: ServiceState, need: dict[str, Any]) -> APIRouter:
    """HMA's routes; `need` holds the app's key dependencies by permission; lookups run the
    action rules through the state's action queue."""
    router = APIRouter(tags=["HMA compatible"])
    upload_limit = state.settings.max_upload_bytes

    def lookup(
        key: ApiKey,
        signal_type: str,
        signal: str,
        banks: str | None,
        seed: str | None,
        bypass_coinflip: bool,
        *,
        raw: bool = False,
        act: bool = True,
    ) -> dict[str, list[dict[str, Any]]] | list[dict[str, Any]]:
        """Matches of one hash; `act`: run the action rules on them (a lookup, as in HMA, is
        what a platform does for each upload; a raw lookup never acts). A key that may not
        read the bank sees a near match's distance as the threshold it was within."""
        kind = _kind(signal_type)
        signals = clean_signals({kind: signal})
        only = set(banks.split(",")) if banks else None
        reads = key.may("read")
        if raw:
            matches, members = state.match_raw(signals, key)
            threshold = state.settings.threshold
            return [
                {
                    "bank_content_id": m.entry,
                    "distance": str(m.distance if reads or not m.distance else threshold),
                }
                for m in matches
                if only is None
                or any(b in only for b, _ in members.get(m.entry, [(DEFAULT_BANK, None)]))
            ]
        flip = 0.0 if bypass_coinflip else None
        if seed is not None and not bypass_coinflip:
            flip = random.Random(seed).random()
        resolved, _ = state.match(signals, None, only=only, coinflip=flip, viewer=key)
        if act:
            state.actions.record(resolved.matches, signals)
        by_bank: dict[str, list[dict[str, Any]]] = {}
        for bank_match in resolved.matches:
            for name in bank_match.banks:
                shown = bank_match.match.distance
                if not reads:
                    shown = state.shown_distance(bank_match, name)
                by_bank.setdefault(name, []).append(
                    {"bank_content_id": bank_match.match.entry, "distance": str(shown)}
                )
        return by_bank

    @router.get("/m/raw_lookup")
    def raw_lookup(
        signal_type: str,
        signal: str,
        banks: str | None = None,
        include_distance: bool = False,
        key: ApiKey = need["match"],
    ) -> dict[str, Any]:
        """Content ids whose hash matches (HMA does not check enabled state here either)."""
        found = lookup(key, signal_type, signal, banks, None, True, raw=True)
        assert isinstance(found, list)
        if include_distance:
            return {"matches": found}
        return {"matches": [m["bank_content_id"] for m in found]}

    @router.get("/m/lookup")
    def lookup_get(
        key: ApiKey = need["match"],
        signal_type: str | None = None,
        signal: str | None = None,
        url: str | None = None,
        banks: str | None = None,
        seed: str | None = None,
        bypass_coinflip: bool = False,
    ) -> Any:
        """Matches by bank name: `{"BANK": [{"bank_content_id": 1, "distance": "0"}]}`."""
        if url is not None:
            raise HTTPException(400, "hashwarden never fetches content by URL: POST the file")
        if not signal or not signal_type:
            raise HTTPException(400, "Either url or both signal and signal_type are required")
        return lookup(key, signal_type, signal, banks, seed, bypass_coinflip)

    @router.post("/m/lookup", max_body_size=upload_limit)
    async def lookup_post(
        request: Request,
        response: Response,
        key: ApiKey = need["match"],
        banks: str | None = None,
        seed: str | None = None,
        bypass_coinflip: bool = False,
    ) -> dict[str, Any]:
        """Hash the uploaded file in memory; matches by signal type, then by bank."""
        hashes = await hash_upload(state, request)
        _say_why(response, hashes)
        out: dict[str, Any] = {}
        wanted = {
            t: v
            for t, v in _hma_hashes(hashes.signals()).items()
            if t in ("pdq", "video_md5", "vpdq")
        }
        for position, (signal_type, value) in enumerate(wanted.items()):
            # one upload, one action event: the rules run on the first hash's matches
            out[signal_type] = await run_in_threadpool(
                lookup, key, signal_type, value, banks, seed, bypass_coinflip, act=position == 0
            )
        return out

    @router.post("/m/compare")
    async def compare(request: Request, key: ApiKey = need["match"]) -> dict[str, Any]:
        """`{"pdq": [A, B]}` -> `{"pdq": [matches, {"distance": n}]}`."""
        body = await json_body(request)
        if not isinstance(body, dict):
            raise HTTPException(400, "Request input was not a dict")
        out: dict[str, Any] = {}
        for signal_type, pair in body.items():
            if not isinstance(pair, list) or len(pair) != 2:
                raise HTTPException(400, "Comparison hash list length must be exactly 2")
            kind = _kind(str(signal_type))
            if not all(isinstance(v, str) for v in pair):
                raise HTTPException(400, f"Invalid {signal_type} hash: hashes are strings")
            try:
                left, right = (clean_signals({kind: v})[kind] for v in pair)
            except HTTPException as exc:
                raise HTTPException(400, f"Invalid {signal_type} hash: {exc.detail}") from exc
            if kind == "pdq":
                distance = pdq_distance(left, right)
                out[signal_type] = [distance <= state.settings.threshold, {"distance": distance}]
            else:
                same = left == right
                out[signal_type] = [same, {"distance": 0 if same else 1}]
        return out

    @router.get("/m/index/status")
    def index_status(key: ApiKey = need["match"], signal_type: str | None = None) -> dict[str, Any]:
        size = len(state.matcher.pdq_index)
        status = {
            "pdq": {"present": True, "built_to": int(state.refreshed), "size": size},
        }
        if signal_type is not None:
            if signal_type not in status:
                raise HTTPException(400, f"No such signal type '{signal_type}'")
            return {signal_type: status[signal_type]}
        return status

    @router.get("/h/hash")
    def hash_get(key: ApiKey = need["match"], url: str | None = None) -> dict[str, str]:
        raise HTTPException(400, "hashwarden never fetches content by URL: POST the file")

    @router.post("/h/hash", max_body_size=upload_limit)
    async def hash_post(
        request: Request, response: Response, key: ApiKey = need["match"]
    ) -> dict[str, str]:
        """The file's hashes under HMA's names (`pdq`, `video_md5`, `vpdq`) and ours."""
        hashes = await hash_upload(state, request)
        _say_why(response, hashes)
        return _hma_hashes(hashes.signals())

    @router.get("/c/banks")
    def banks_index(key: ApiKey = need["read"]) -> list[dict[str, Any]]:
        with state.lock:
            return [_bank_json(b) for b in state.banks.all()]

    @router.get("/c/bank/{bank_name}")
    def bank_show(bank_name: str, key: ApiKey = need["read"]) -> dict[str, Any]:
        with state.lock:
            return _bank_json(state.banks.get(bank_name))

    @router.post("/c/banks", status_code=201)
    def bank_create(body: HmaBankIn, key: ApiKey = need["write"]) -> Any:
        ratio = body.enabled_ratio
        if ratio is None:
            ratio = 1.0 if body.enabled in (None, True) else 0.0
        if not 0.0 <= ratio <= 1.0:
            raise HTTPException(400, "enabled_ratio must be between 0 and 1")
        try:
            with state.lock:
                bank = state.banks.create(body.name, enabled_ratio=ratio, actor=key.name)
        except ConflictError:
            return JSONResponse({"message": "Bank already exists"}, status_code=403)
        except HashwardenError as exc:
            raise HTTPException(400, str(exc)) from exc
        return _bank_json(bank)

    @router.post("/c/bank/{bank_name}/signal", status_code=201)
    async def bank_add_signal(
        bank_name: str, request: Request, key: ApiKey = need["write"]
    ) -> dict[str, Any]:
        """`{"pdq": "..."}` (and an optional `note`) -> `{"id": ..., "signals": {...}}`."""
        body = await json_body(request)
        if not isinstance(body, dict):
            raise HTTPException(400, "body must be a JSON object")
        note = body.pop("note", None)
        if note is not None and (not isinstance(note, str) or len(note) > 255):
            raise HTTPException(400, "note must be a string of at most 255 characters")
        if not body:
            raise HTTPException(400, "No signals given")
        signals = clean_signals({_kind(str(k)): str(v) for k, v in body.items()})
        added = await run_in_threadpool(
            add_hashes, state, bank_name, signals, {"note": note}, key.name
        )
        return {"id": added.ids[0] if added.ids else None, "signals": dict(body)}

    return router


def _hma_hashes(signals: dict[str, str]) -> dict[str, str]:
    out = dict(signals)
    if "md5" in signals:
        out["video_md5"] = signals["md5"]
    return out
