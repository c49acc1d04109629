"""The routes and answer shapes of Meta's Hasher-Matcher-Actioner (HMA 2, "OpenMediaMatch"), so a
client written against HMA works unchanged: its curation (`/c/`), matching (`/m/`) and hashing
(`/h/`) blueprints, route by route (docs/interop.md has the table), errors as HMA's
`{"message": ...}` with HMA's statuses (a malformed or unknown signal is 400).

Differences, on purpose: hashwarden never fetches content from a URL (`?url=` answers 400:
upload the file instead); HMA's `video_md5` is our `md5`; exchanges are configured with
`hashwarden exchange add` (credentials never travel through the API), so their routes here only
read. Keys and roles apply here too (curation: `read`/`write`, a curator's; look-ups: `match`);
an HMA client that sends no key needs the service's keyless role (`--keyless-role matcher`, off
by default). When image matching of an upload is skipped (not decodable, not an image), the
answer keeps HMA's shape and says why in the `X-Hashwarden-Image-Error` header.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hashwarden._time import parse_utc, utc_text
from hashwarden.bank import Bank
from hashwarden.errors import ConflictError, HashwardenError, NotFoundError
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.index.matcher import Match
from hashwarden.index.pdq import pdq_distance
from hashwarden.service.auth import MatchKey, ReadKey, WriteKey
from hashwarden.service.banks import DEFAULT_BANK, NamedBank
from hashwarden.service.inputs import hash_upload, hash_upload_with_fields, image_error, json_body
from hashwarden.service.keys import ApiKey
from hashwarden.service.routes.banks import add_hashes
from hashwarden.service.routes.match import shown_exchanges
from hashwarden.service.state import ServiceState, StateDep
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.views import BANK_VIEWS

__all__ = ["HmaBankIn", "HmaRoute", "hma_error_response", "raw_lookup_answer", "router", "uploads"]


def _message(exc: Exception) -> tuple[int, str, Any, Mapping[str, str] | None]:
    """(status, message, detail, headers) of a deliberate error."""
    if isinstance(exc, HashwardenError):
        return exc.http_status, str(exc), str(exc), None
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail
        # HMA answers a bad upload (no file, two files, an empty one) 400, as any bad input
        status = 400 if exc.status_code == 422 else exc.status_code
        return status, str(detail), detail, exc.headers
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        text = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors
        )
        return 422, text, jsonable_encoder(errors), None
    raise exc


def hma_error_response(exc: Exception) -> Response:
    """An error as HMA answers it, `{"message": ...}` (with hashwarden's `detail` beside it),
    under the same status hashwarden gives it; anything not deliberate is re-raised."""
    status, text, detail, headers = _message(exc)
    return JSONResponse({"message": text, "detail": detail}, status_code=status, headers=headers)


class HmaRoute(APIRoute):
    """A route whose errors (its key's 401/403/429 included) answer in HMA's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except (HashwardenError, StarletteHTTPException, RequestValidationError) as exc:
                return hma_error_response(exc)

        return answer


router = APIRouter(tags=["HMA compatible"], route_class=HmaRoute)
#: Routes that take an upload: the app includes them with the upload size limit.
uploads = APIRouter(tags=["HMA compatible"], route_class=HmaRoute)

#: HMA signal type names -> ours (any of our kinds is taken under its own name too).
_KINDS = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}
#: Ours -> HMA's, in answers.
_HMA_NAMES = {"md5": "video_md5"}
#: HMA's names for the programmes' APIs (python-threatexchange's `get_name()`).
_EXCHANGE_APIS = {
    "file": "local_file",
    "ncmec": "ncmec",
    "stopncii": "stop_ncii",
    "threatexchange": "fb_threatexchange",
    "tat": "tat",
}
#: HMA's bank names: UPPER_WITH_UNDERSCORE.
_HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: Where an entry keeps the metadata an HMA client sent with it.
_METADATA = "hma:metadata"
#: disable_until_ts 0 (HMA: disabled until enabled again), as a time.
_FOREVER = "9999-12-31T23:59:59Z"
_FIVE_YEARS_S = 5 * 365 * 24 * 3600
ContentId = Annotated[int, PathParam(ge=1, le=2**62)]


def _kind(signal_type: str) -> str:
    return _KINDS.get(signal_type, signal_type)


def _signal(signal_type: str, value: object, *, invalid: str = "invalid signal") -> tuple[str, str]:
    """(our kind, the value checked) of an HMA signal; 400 as in HMA when the type is unknown
    or the value malformed."""
    kind = _kind(signal_type)
    registry = default_registry()
    if kind not in registry.names():
        raise HTTPException(400, f"No such SignalType '{signal_type}'")
    if not isinstance(value, str):
        raise HTTPException(400, f"{invalid}: a signal is a string")
    try:
        return kind, registry.get(kind).normalize(value)
    except HashwardenError as exc:
        raise HTTPException(400, f"{invalid}: {exc}") from exc


def _bank_json(bank: NamedBank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": bank.enabled_ratio}


def _hma_hashes(signals: dict[str, str]) -> dict[str, str]:
    out = dict(signals)
    if "md5" in signals:
        out["video_md5"] = signals["md5"]
    return out


def _hma_signals(signals: dict[str, str]) -> dict[str, str]:
    """Our signals under HMA's names where HMA has one."""
    return {_HMA_NAMES.get(kind, kind): value for kind, value in signals.items()}


class HmaBankIn(BaseModel):
    name: str
    enabled_ratio: float | None = None
    enabled: bool | None = None


class HmaBankPatch(BaseModel):
    name: str | None = None
    enabled_ratio: float | None = None
    enabled: bool | None = None


class HmaMetadata(BaseModel):
    """HMA's `BankedContentMetadata` as a client sends it (`collab` is the service's own)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    content_id: str | None = None
    content_uri: str | None = None
    json_data: dict[str, Any] | None = Field(None, alias="json")


def _say_why(response: Response, hashes: ContentHashes) -> None:
    """Why image matching was skipped, in a header (HMA's answers are keyed by signal type)."""
    reason = image_error(hashes)
    if reason is not None:
        response.headers["X-Hashwarden-Image-Error"] = reason.encode("ascii", "replace").decode()


def _raw_matches(
    state: ServiceState, key: ApiKey, signals: dict[str, str], banks: str | None
) -> list[dict[str, Any]]:
    """Every match of a raw look-up, found by the full path (in a thread)."""
    return _raw_answer(state, key, *state.match_raw(signals, key), banks)


def _raw_answer(
    state: ServiceState,
    key: ApiKey,
    matches: list[Match],
    members: dict[int, list[tuple[str, str | None]]],
    banks: str | None,
) -> list[dict[str, Any]]:
    """The raw look-up's matches in named banks among `banks` (HMA does not check the banks'
    enabled state here either); a key that may not read the bank sees a near match's distance
    as the threshold it was within."""
    only = set(banks.split(",")) if banks else None
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
    """The answer to a raw look-up: at once when it can be had now, match or not (the common
    case, `ServiceState.quick_match_raw`), else from a thread."""
    kind, value = _signal(signal_type, signal)
    signals = {kind: value}
    quick = state.quick_match_raw(signals, key)
    if quick is None:
        found = await run_in_threadpool(_raw_matches, state, key, signals, banks)
    else:
        found = _raw_answer(state, key, *quick, banks)
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
    kind, value = _signal(signal_type, signal)
    signals = {kind: value}
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
        invalid = f"Invalid {signal_type} hash"
        kind, left = _signal(str(signal_type), pair[0], invalid=invalid)
        _, right = _signal(str(signal_type), pair[1], invalid=invalid)
        if kind == "pdq":
            distance = pdq_distance(left, right)
            out[signal_type] = [distance <= state.settings.threshold, {"distance": distance}]
        else:
            same = left == right
            out[signal_type] = [same, {"distance": 0 if same else 1}]
    return out


#: HMA's signal types -> ours, as the index status and the signal type listing show them.
_SIGNAL_TYPES = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}


def _index_sizes(state: ServiceState) -> tuple[dict[str, int], dict[str, int]]:
    """(what the index holds, what the bank holds) per HMA signal type, after the index caught
    up with the bank (as a match does first)."""
    state.catch_up()
    with state.reading() as bank:
        in_bank = bank.entries.count_by_kind()
        pdq = len(state.matcher.pdq_index)
        md5 = state.matcher.exact_index.tables.get("md5")
    held = {
        "pdq": pdq,
        "video_md5": len(md5) if md5 is not None else in_bank.get("md5", 0),
        "vpdq": in_bank.get("vpdq", 0),
    }
    return held, {name: in_bank.get(kind, 0) for name, kind in _SIGNAL_TYPES.items()}


def _only(signal_type: str | None) -> list[str]:
    if signal_type is None:
        return list(_SIGNAL_TYPES)
    if signal_type not in _SIGNAL_TYPES:
        raise HTTPException(400, f"No such signal type '{signal_type}'")
    return [signal_type]


@router.get("/m/index/status")
def index_status(state: StateDep, key: MatchKey, signal_type: str | None = None) -> dict[str, Any]:
    """`{"pdq": {"present": true, "built_to": TS, "size": N}, ...}`: the index is built when the
    service starts and kept current, so every type is present."""
    names = _only(signal_type)
    held, _ = _index_sizes(state)
    built = int(state.refreshed)
    return {n: {"present": True, "built_to": built, "size": held[n]} for n in names}


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


# -- curation: banks ----------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not _HMA_BANK_NAME.fullmatch(name):
        raise HTTPException(400, f"Bank name {name!r} must be UPPER_WITH_UNDERSCORE")


def _named(state: ServiceState, name: str) -> NamedBank:
    """The named bank, or 404 as HMA says it; the caller holds the lock."""
    try:
        return state.banks.get(name)
    except NotFoundError as exc:
        raise HTTPException(404, f"bank '{name}' not found") from exc


def _bank_exists(state: ServiceState, name: str) -> None:
    with state.lock:
        _named(state, name)


@router.get("/c/banks")
def banks_index(state: StateDep, key: ReadKey) -> list[dict[str, Any]]:
    with state.lock:
        return [_bank_json(b) for b in state.banks.all()]


@router.get("/c/bank/{bank_name}")
def bank_show(bank_name: str, state: StateDep, key: ReadKey) -> dict[str, Any]:
    with state.lock:
        return _bank_json(_named(state, bank_name))


@router.post("/c/banks", status_code=201)
def bank_create(body: HmaBankIn, state: StateDep, key: WriteKey) -> Any:
    _check_name(body.name)
    ratio = body.enabled_ratio
    if ratio is None:
        ratio = 1.0 if body.enabled in (None, True) else 0.0
    if not 0.0 <= ratio <= 1.0:
        raise HTTPException(400, "enabled_ratio must be between 0 and 1")
    try:
        with state.lock:
            bank = state.banks.create(body.name, enabled_ratio=ratio, actor=key.name)
    except ConflictError as exc:
        raise HTTPException(403, "Bank already exists") from exc
    return _bank_json(bank)


@router.put("/c/bank/{bank_name}")
def bank_update(bank_name: str, body: HmaBankPatch, state: StateDep, key: WriteKey) -> Any:
    """A new `name`, `enabled` (ratio 1 or 0) and/or `enabled_ratio`, as HMA takes them."""
    ratio = None if body.enabled is None else (1.0 if body.enabled else 0.0)
    if body.enabled_ratio is not None:
        ratio = body.enabled_ratio
    if ratio is not None and not 0.0 <= ratio <= 1.0:
        raise HTTPException(400, "enabled_ratio must be between 0 and 1")
    with state.lock:
        _named(state, bank_name)
        if body.name is not None and body.name != bank_name:
            _check_name(body.name)
            try:
                state.banks.rename(bank_name, body.name, actor=key.name)
            except ConflictError as exc:
                raise HTTPException(403, "Bank name already exists") from exc
            bank_name = body.name
        if ratio is not None:
            state.banks.update(bank_name, {"enabled_ratio": ratio}, actor=key.name)
        return _bank_json(state.banks.get(bank_name))


@router.delete("/c/bank/{bank_name}")
def bank_delete(bank_name: str, state: StateDep, key: WriteKey) -> dict[str, str]:
    """Delete the bank and, as HMA does, its content: entries no other named bank holds leave
    the bank. A bank that does not exist is done already (200, as in HMA)."""
    with state.locked() as bank:
        try:
            state.banks.get(bank_name)
        except NotFoundError:
            return {"message": "Done"}
        members: list[int] = []
        while page := state.banks.members(
            bank_name, limit=1000, after=members[-1] if members else 0
        ):
            members += [entry_id for entry_id, _ in page]
        state.banks.delete(bank_name, actor=key.name)
        held = state.banks.memberships(members)
        for entry_id in members:
            if entry_id not in held:
                bank.entries.remove(entry_id, actor=key.name, reason=f"bank {bank_name} deleted")
    return {"message": "Done"}


# -- curation: bank content -----------------------------------------------------------------------


def _note(value: object) -> str | None:
    """HMA's note: empty is none; a string of at most 255 characters."""
    if not value:
        return None
    if not isinstance(value, str):
        raise HTTPException(400, "note should be a string")
    if len(value) > 255:
        raise HTTPException(400, "note must be at most 255 characters")
    return value


def _metadata(text: str | None) -> dict[str, Any] | None:
    """The `metadata` form field: a JSON object of HMA's metadata fields, or 400."""
    if text is None:
        return None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise HTTPException(400, "metadata form field must be valid JSON") from exc
    if not isinstance(raw, dict):
        raise HTTPException(400, "metadata should be a json object")
    raw.pop("collab", None)
    try:
        metadata = HmaMetadata(**raw)
    except ValidationError as exc:
        raise HTTPException(400, f"Invalid metadata: {exc}") from exc
    return metadata.model_dump(by_alias=True, exclude_none=True) or None


def _disable_until_ts(until: str | None) -> int:
    """A member's `disabled_until` as HMA's `disable_until_ts` (1: enabled, 0: disabled)."""
    if until is None:
        return 1
    moment = parse_utc(until)
    return 0 if moment.year == 9999 else int(moment.timestamp())


def _until(ts: int) -> str | None:
    if ts == 1:
        return None
    if ts == 0:
        return _FOREVER
    return utc_text(datetime.fromtimestamp(ts, UTC))


def _collab(bank: Any, entry_id: int) -> dict[str, list[str]]:
    """The programmes' records that brought the entry, by exchange (HMA's `collab`)."""
    if not bank.db.has_table("programme_records"):
        return {}
    rows = bank.db.query(
        "SELECT exchange, record FROM programme_records WHERE entry_id = ? ORDER BY exchange,"
        " record",
        (entry_id,),
    )
    found: dict[str, list[str]] = {}
    for exchange, record in rows:
        found.setdefault(str(exchange), []).append(str(record))
    return found


def _member(state: ServiceState, bank_name: str, content_id: int) -> tuple[NamedBank, str | None]:
    """The named bank and the entry's `disabled_until` in it; 404 unless the entry is in it.
    The caller holds the lock."""
    named = _named(state, bank_name)
    members = dict(state.banks.memberships([content_id]).get(content_id, []))
    if bank_name not in members:
        raise HTTPException(404, f"content '{content_id}' not found")
    return named, members[bank_name]


@router.get("/c/bank/{bank_name}/content/{content_id}")
def bank_get_content(
    bank_name: str,
    content_id: ContentId,
    state: StateDep,
    key: ReadKey,
    include_signals: str = "false",
    include_metadata: str = "true",
) -> dict[str, Any]:
    """HMA's `BankContentResponse`: `signals` only when asked, `metadata` and `note` only
    when there are some."""
    with state.locked() as bank:
        named, until = _member(state, bank_name, content_id)
        entry = bank.entries.get(content_id)
        collab = _collab(bank, content_id)
    out: dict[str, Any] = {
        "id": content_id,
        "disable_until_ts": _disable_until_ts(until),
        "original_media_uri": None,
        "bank": _bank_json(named),
    }
    if include_signals.lower() == "true":
        out["signals"] = _hma_signals({s.kind: s.value for s in entry.signals})
    user = entry.extra.get(_METADATA)
    if include_metadata.lower() == "true" and (user or collab):
        fields = {"content_id": None, "content_uri": None, "json": None}
        out["metadata"] = {**fields, **(user or {}), "collab": collab or None}
    if entry.note is not None:
        out["note"] = entry.note
    return out


def _content_config(state: ServiceState, bank: Any, bank_name: str, content_id: int) -> Any:
    """HMA's `BankContentConfig` of an entry in a bank, as `PUT` answers it."""
    named, until = _member(state, bank_name, content_id)
    entry = bank.entries.get(content_id)
    return {
        "id": content_id,
        "disable_until_ts": _disable_until_ts(until),
        "collab_metadata": _collab(bank, content_id),
        "original_media_uri": None,
        "bank": _bank_json(named),
        "user_metadata": entry.extra.get(_METADATA),
        "note": entry.note,
    }


def _update_content(
    state: ServiceState, bank_name: str, content_id: int, changes: dict[str, Any], actor: str
) -> Any:
    with state.locked() as bank:
        _member(state, bank_name, content_id)
        if "disable_until_ts" in changes:
            until = _until(changes["disable_until_ts"])
            state.banks.disable_member(bank_name, content_id, until, actor=actor)
        if "note" in changes:
            bank.entries.update(content_id, actor=actor, note=changes["note"])
        return _content_config(state, bank, bank_name, content_id)


@router.put("/c/bank/{bank_name}/content/{content_id}")
async def bank_update_content(
    bank_name: str, content_id: ContentId, request: Request, state: StateDep, key: WriteKey
) -> Any:
    """`disable_until_ts` (Unix seconds; 1: enabled, 0: disabled) and/or `note`."""
    data = await json_body(request)
    if not isinstance(data, dict):
        raise HTTPException(400, "this endpoint expects a json object payload")
    changes: dict[str, Any] = {}
    if "disable_until_ts" in data:
        raw = data["disable_until_ts"]
        try:
            ts = int(raw)
        except (TypeError, ValueError, OverflowError) as exc:
            raise HTTPException(400, f"Invalid int: '{raw}'") from exc
        if ts < 0:
            raise HTTPException(400, "disable_until_ts must be a non-negative integer")
        if ts > time.time() + _FIVE_YEARS_S:
            raise HTTPException(400, "disable_until_ts must be less than 5 years in the future")
        changes["disable_until_ts"] = ts
    if "note" in data:
        changes["note"] = _note(data["note"])
    return await run_in_threadpool(_update_content, state, bank_name, content_id, changes, key.name)


@router.delete("/c/bank/{bank_name}/content/{content_id}")
def bank_delete_content(
    bank_name: str, content_id: ContentId, state: StateDep, key: WriteKey
) -> dict[str, int]:
    """`{"deleted": 1}`, or 0 when the content is not in the bank; the entry leaves the bank
    when no other named bank holds it."""
    with state.locked() as bank:
        _named(state, bank_name)
        if bank_name not in dict(state.banks.memberships([content_id]).get(content_id, [])):
            return {"deleted": 0}
        state.banks.remove_member(bank_name, content_id, actor=key.name)
        if not state.banks.memberships([content_id]):
            bank.entries.remove(content_id, actor=key.name)
    return {"deleted": 1}


def _add(
    state: ServiceState,
    bank_name: str,
    signals: dict[str, str],
    note: str | None,
    metadata: dict[str, Any] | None,
    actor: str,
    views: dict[str, str] | None = None,
) -> int:
    fields: dict[str, Any] = {"note": note, "extra": {_METADATA: metadata} if metadata else {}}
    added = add_hashes(state, bank_name, signals, fields, actor, views)
    return added.ids[0]


@uploads.post("/c/bank/{bank_name}/content")
async def bank_add_content(
    bank_name: str, request: Request, state: StateDep, key: WriteKey, url: str | None = None
) -> dict[str, Any]:
    """A file uploaded as multipart/form-data (under its content type, `photo` or `video`),
    hashed in memory, with optional `metadata` (a JSON object) and `note` form fields:
    `{"id": ..., "signals": {...}}` (200, as HMA answers)."""
    await run_in_threadpool(_bank_exists, state, bank_name)  # the lock: never on the loop
    if url is not None:
        raise HTTPException(400, "hashwarden never fetches content by URL: upload the file")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise HTTPException(400, "Neither `url` nor multipart file upload was received")
    hashes, fields = await hash_upload_with_fields(
        state, request, {"metadata", "note"}, views=BANK_VIEWS
    )
    metadata = _metadata(fields.get("metadata"))
    note = _note(fields.get("note"))
    signals = {k: v for k, v in hashes.signals().items() if k in ("md5", "sha1", "sha256")}
    if hashes.pdq is not None and (hashes.pdq_quality or 0) >= 50:
        signals["pdq"] = hashes.pdq
    content_id = await run_in_threadpool(
        _add, state, bank_name, signals, note, metadata, key.name, hashes.pdq_views
    )
    return {"id": content_id, "signals": _hma_signals(signals)}


@router.post("/c/bank/{bank_name}/signal")
async def bank_add_signal(
    bank_name: str, request: Request, state: StateDep, key: WriteKey
) -> dict[str, Any]:
    """`{"pdq": "..."}` (and an optional `note`) -> `{"id": ..., "signals": {...}}` (200, as
    HMA answers)."""
    await run_in_threadpool(_bank_exists, state, bank_name)  # the lock: never on the loop
    body = await json_body(request)
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    note = _note(body.pop("note", None))
    if not body:
        raise HTTPException(400, "No signals given")
    signals: dict[str, str] = {}
    answer: dict[str, str] = {}
    for name, value in body.items():
        if _kind(str(name)) not in default_registry().names():
            raise HTTPException(400, f"No such signal type {name}")
        kind, clean = _signal(str(name), value, invalid=f"Invalid {name} signal")
        signals[kind] = answer[str(name)] = clean
    content_id = await run_in_threadpool(_add, state, bank_name, signals, note, None, key.name)
    return {"id": content_id, "signals": answer}


# -- curation: signal types, content types ------------------------------------------------------


@router.get("/c/signal_type")
def signal_types(key: ReadKey) -> list[dict[str, Any]]:
    """HMA's signal types hashwarden matches, always on (our other kinds are taken too)."""
    return [{"name": name, "enabled_ratio": 1.0} for name in _SIGNAL_TYPES]


@router.get("/c/signal_type/index")
def signal_type_index_status(
    state: StateDep, key: ReadKey, signal_type: str | None = None
) -> dict[str, Any]:
    names = _only(signal_type)
    held, in_bank = _index_sizes(state)
    built = int(state.refreshed)
    return {
        n: {
            "db_size": in_bank[n],
            "index_size": held[n],
            "index_out_of_date": held[n] != in_bank[n],
            "newest_db_item": built,
            "index_built_to": built,
        }
        for n in names
    }


@router.put("/c/signal_type/{signal_type_name}")
def signal_type_update(signal_type_name: str, key: WriteKey) -> Any:
    raise HTTPException(
        405, "hashwarden matches every signal type it knows: none can be switched off"
    )


@router.get("/c/content_type")
def content_types(key: ReadKey) -> list[dict[str, Any]]:
    return [{"name": "photo", "enabled": True}, {"name": "video", "enabled": True}]


# -- curation: exchanges (read only) -------------------------------------------------------------


def _exchanges(state: ServiceState) -> ProgrammeExchanges:
    # the service's bank is a `Bank` (BankStore is its protocol)
    return ProgrammeExchanges(cast(Bank, state.bank))


def _exchange(state: ServiceState, name: str) -> Any:
    try:
        return _exchanges(state).get(name)
    except NotFoundError as exc:
        raise HTTPException(404, f"Exchange '{name}' not found") from exc


@router.get("/c/exchanges/apis")
def exchange_apis(key: ReadKey) -> list[str]:
    return list(_EXCHANGE_APIS.values())


@router.get("/c/exchanges")
def exchange_list(state: StateDep, key: ReadKey) -> list[str]:
    with state.lock:
        return [e.name for e in _exchanges(state).all()]


@router.get("/c/exchange/{exchange_name}")
def exchange_show(exchange_name: str, state: StateDep, key: ReadKey) -> dict[str, Any]:
    """The collaboration config as HMA shows it (`name`, `api`, `enabled` and the API's own
    fields), with the named bank and category it fills; never where its credentials are."""
    with state.lock:
        exchange = _exchange(state, exchange_name)
    return {
        **exchange.config,
        "name": exchange.name,
        "api": _EXCHANGE_APIS.get(exchange.api, exchange.api),
        "enabled": True,
        "named_bank": exchange.named_bank,
        "category": exchange.category,
    }


@router.get("/c/exchange/{exchange_name}/status")
def exchange_status(exchange_name: str, state: StateDep, key: ReadKey) -> dict[str, Any]:
    """python-threatexchange's `FetchStatus`: hashwarden records a fetch when it completes (a
    failed fetch leaves the last good one), so `last_fetch_succeeded` is true once one has."""
    with state.locked() as bank:
        exchange = _exchange(state, exchange_name)
        rows = bank.db.query(
            "SELECT COUNT(DISTINCT record) FROM programme_records WHERE exchange = ?",
            (exchange.name,),
        )
    fetched = None if exchange.fetched is None else int(parse_utc(exchange.fetched).timestamp())
    return {
        "checkpoint_ts": fetched if exchange.checkpoint is not None else None,
        "running_fetch_start_ts": None,
        "last_fetch_complete_ts": fetched,
        "last_fetch_succeeded": None if fetched is None else True,
        "up_to_date": fetched is not None,
        "fetched_items": int(rows[0][0]),
    }


_CLI_ONLY = (
    "configure exchanges with `hashwarden exchange add|remove BANK ...`: credentials never"
    " travel through the API"
)


@router.post("/c/exchanges")
def exchange_create(key: WriteKey) -> Any:
    raise HTTPException(405, _CLI_ONLY)


@router.put("/c/exchange/{exchange_name}")
@router.delete("/c/exchange/{exchange_name}")
def exchange_change(exchange_name: str, key: WriteKey) -> Any:
    raise HTTPException(405, _CLI_ONLY)


@router.get("/c/exchanges/api/{api_name}")
@router.post("/c/exchanges/api/{api_name}")
@router.get("/c/exchanges/api/{api_name}/schema")
def exchange_api(api_name: str, key: WriteKey) -> Any:
    raise HTTPException(405, _CLI_ONLY)
