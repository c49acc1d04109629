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
from hashwarden.service.auth import MatchKey, ReadKey, WriteKey
from hashwarden.service.banks import DEFAULT_BANK, NamedBank
from hashwarden.service.inputs import clean_signals, hash_upload, image_error, json_body
from hashwarden.service.keys import ApiKey
from hashwarden.service.routes.banks import add_hashes
from hashwarden.service.routes.match import shown_exchanges
from hashwarden.service.state import ServiceState, StateDep
from hashwarden.signals.hashing import ContentHashes

__all__ = ["HmaBankIn", "raw_lookup_answer", "router", "uploads"]

router = APIRouter(tags=["HMA compatible"])
#: Routes that take an upload: the app includes them with the upload size limit.
uploads = APIRouter(tags=["HMA compatible"])

#: HMA signal type names -> ours.
_KINDS = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}


def _kind(signal_type: str) -> str:
    return _KINDS.get(signal_type, signal_type)


def _bank_json(bank: NamedBank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": bank.enabled_ratio}


def _hma_hashes(signals: dict[str, str]) -> dict[str, str]:
    out = dict(signals)
    if "md5" in signals:
        out["video_md5"] = signals["md5"]
    return out


class HmaBankIn(BaseModel):
    name: str
    enabled_ratio: float | None = None
    enabled: bool | None = None


def _say_why(response: Response, hashes: ContentHashes) -> None:
    """Why image matching was skipped, in a header (HMA's answers are keyed by signal type)."""
    reason = image_error(hashes)
    if reason is not None:
        response.headers["X-Hashwarden-Image-Error"] = reason.encode("ascii", "replace").decode()


def _raw_matches(
    state: ServiceState, key: ApiKey, signals: dict[str, str], banks: str | None
) -> list[dict[str, Any]]:
    """Every match of a raw look-up (HMA does not check the banks' enabled state here
    either); a key that may not read the bank sees a near match's distance as the
    threshold it was within."""
    only = set(banks.split(",")) if banks else None
    matches, members = state.match_raw(signals, key)
    threshold = state.settings.threshold
    reads = key.may("read")
    return [
        {
            "bank_content_id": m.entry,
            "distance": str(m.distance if reads or not m.distance else threshold),
        }
        for m in matches
        if only is None or any(b in only for b, _ in members.get(m.entry, [(DEFAULT_BANK, None)]))
    ]


async def raw_lookup_answer(
    state: ServiceState,
    key: ApiKey,
    signal_type: str,
    signal: str,
    banks: str | None,
    include_distance: bool,
) -> dict[str, Any]:
    """The answer to a raw look-up: at once when the hash matches nothing (the common case,
    `ServiceState.quick_match`), else from a thread."""
    signals = clean_signals({_kind(signal_type): signal})
    quick = state.quick_match(signals, key)
    found: list[dict[str, Any]] = []
    if quick is None or quick.matches:
        found = await run_in_threadpool(_raw_matches, state, key, signals, banks)
    if include_distance:
        return {"matches": found}
    return {"matches": [m["bank_content_id"] for m in found]}


def _lookup(
    state: ServiceState,
    key: ApiKey,
    signal_type: str,
    signal: str,
    banks: str | None,
    seed: str | None,
    bypass_coinflip: bool,
    *,
    act: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Matches of one hash by bank; `act`: run the action rules on them (a look-up, as in
    HMA, is what a platform does for each upload). A key that may not read the bank sees a
    near match's distance as the threshold it was within."""
    signals = clean_signals({_kind(signal_type): signal})
    only = set(banks.split(",")) if banks else None
    reads = key.may("read")
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
            item: dict[str, Any] = {
                "bank_content_id": bank_match.match.entry,
                "distance": str(shown),
            }
            if bank_match.exchanges:  # HMA's shape, plus the programmes behind the entry
                item["exchanges"] = shown_exchanges(bank_match, reads)
            by_bank.setdefault(name, []).append(item)
    return by_bank


@router.get("/m/raw_lookup")
async def raw_lookup(
    signal_type: str,
    signal: str,
    state: StateDep,
    key: MatchKey,
    banks: str | None = None,
    include_distance: bool = False,
) -> dict[str, Any]:
    """Content ids whose hash matches (HMA does not check enabled state here either)."""
    return await raw_lookup_answer(state, key, signal_type, signal, banks, include_distance)


@router.get("/m/lookup")
def lookup_get(
    state: StateDep,
    key: MatchKey,
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
    return _lookup(state, key, signal_type, signal, banks, seed, bypass_coinflip)


@uploads.post("/m/lookup")
async def lookup_post(
    request: Request,
    response: Response,
    state: StateDep,
    key: MatchKey,
    banks: str | None = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """Hash the uploaded file in memory; matches by signal type, then by bank."""
    hashes = await hash_upload(state, request)
    _say_why(response, hashes)
    out: dict[str, Any] = {}
    wanted = {
        t: v for t, v in _hma_hashes(hashes.signals()).items() if t in ("pdq", "video_md5", "vpdq")
    }
    for position, (signal_type, value) in enumerate(wanted.items()):
        # one upload, one action event: the rules run on the first hash's matches
        out[signal_type] = await run_in_threadpool(
            _lookup,
            state,
            key,
            signal_type,
            value,
            banks,
            seed,
            bypass_coinflip,
            act=position == 0,
        )
    return out


@router.post("/m/compare")
async def compare(request: Request, state: StateDep, key: MatchKey) -> dict[str, Any]:
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
def index_status(state: StateDep, key: MatchKey, signal_type: str | None = None) -> dict[str, Any]:
    size = len(state.matcher.pdq_index)
    status = {"pdq": {"present": True, "built_to": int(state.refreshed), "size": size}}
    if signal_type is not None:
        if signal_type not in status:
            raise HTTPException(400, f"No such signal type '{signal_type}'")
        return {signal_type: status[signal_type]}
    return status


@router.get("/h/hash")
def hash_get(key: MatchKey, url: str | None = None) -> dict[str, str]:
    raise HTTPException(400, "hashwarden never fetches content by URL: POST the file")


@uploads.post("/h/hash")
async def hash_post(
    request: Request, response: Response, state: StateDep, key: MatchKey
) -> dict[str, str]:
    """The file's hashes under HMA's names (`pdq`, `video_md5`, `vpdq`) and ours."""
    hashes = await hash_upload(state, request)
    _say_why(response, hashes)
    return _hma_hashes(hashes.signals())


@router.get("/c/banks")
def banks_index(state: StateDep, key: ReadKey) -> list[dict[str, Any]]:
    with state.lock:
        return [_bank_json(b) for b in state.banks.all()]


@router.get("/c/bank/{bank_name}")
def bank_show(bank_name: str, state: StateDep, key: ReadKey) -> dict[str, Any]:
    with state.lock:
        return _bank_json(state.banks.get(bank_name))


@router.post("/c/banks", status_code=201)
def bank_create(body: HmaBankIn, state: StateDep, key: WriteKey) -> Any:
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
    bank_name: str, request: Request, state: StateDep, key: WriteKey
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
    added = await run_in_threadpool(add_hashes, state, bank_name, signals, {"note": note}, key.name)
    return {"id": added.ids[0] if added.ids else None, "signals": dict(body)}
