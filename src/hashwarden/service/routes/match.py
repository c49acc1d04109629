"""Matching: an upload hashed in memory, or hashes the client computed, against the bank's
named banks. A key that may not read the bank never sees a banked hash it did not send, nor a
near match's exact distance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, Field

from hashwarden.index.matcher import Match
from hashwarden.service.auth import MatchKey
from hashwarden.service.banks import BankMatch, Resolved
from hashwarden.service.inputs import clean_signals, hash_upload, image_error
from hashwarden.service.keys import ApiKey
from hashwarden.service.state import ServiceState, StateDep
from hashwarden.signals.views import QUERY_VIEWS

__all__ = [
    "BankMatchOut",
    "HashesIn",
    "MatchResponse",
    "Stampable",
    "match_answer",
    "match_hashes_answer",
    "router",
    "uploads",
]

router = APIRouter(tags=["matching"])
#: Routes that take an upload: the app includes them with the upload size limit.
uploads = APIRouter(tags=["matching"])


def _stampable(moment: datetime) -> datetime:
    """A time the bank can store in UTC: `9999-12-31T23:59:59-14:00` is past year 9999 there."""
    try:
        moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the time is outside years 1 to 9999 once turned to UTC") from exc
    return moment


#: A time as parsed from a request: any offset, but one that fits in UTC.
Stampable = Annotated[datetime, AfterValidator(_stampable)]


@dataclass(eq=False)
class BankMatchOut(Match):
    """A match and the named banks it counts in."""

    banks: list[str] = field(default_factory=list)
    #: The programmes whose records brought the entry (`name`, `tags`, and for a key that
    #: may read the bank the programme's record `id`).
    exchanges: list[dict[str, Any]] = field(default_factory=list)


class MatchResponse(BaseModel):
    hashes: dict[str, str]
    matches: list[BankMatchOut]
    known_good: list[str]
    #: Negative banks that matched: every other match was suppressed.
    suppressed_by: list[str] = []
    #: For an upload: why image matching was skipped (not decodable, not an image), or null.
    image_error: str | None = None


class HashesIn(BaseModel):
    """Hashes computed by the client."""

    signals: dict[str, str]
    pdq_quality: int | None = None
    #: For actions: the platform's reference to the uploader and when the upload happened.
    uploader_ref: str | None = Field(default=None, max_length=256)
    incident_time: Stampable | None = None


def shown_exchanges(bank_match: BankMatch, reads: bool) -> list[dict[str, Any]]:
    """A match's provenance as a key sees it: without the programme's record ids for a key
    that may not read the bank (an id can be the banked hash itself)."""
    if reads:
        return bank_match.exchanges
    return [{k: v for k, v in e.items() if k != "id"} for e in bank_match.exchanges]


def match_answer(
    signals: dict[str, str],
    resolved: Resolved,
    known_good: list[str],
    key: ApiKey,
    shown_distance: Callable[[BankMatch], int] | None = None,
) -> dict[str, Any]:
    """Matches as `MatchResponse`'s JSON; a key that may not read the bank never sees a banked
    hash it did not send (a near match's value is left out), nor a near match's exact
    distance (it sees `shown_distance`: the threshold the match was within)."""
    reads = key.may("read")
    out = []
    for bank_match in resolved.matches:
        m = bank_match.match
        value = m.value if reads or m.distance == 0 else ""
        distance = m.distance if reads or shown_distance is None else shown_distance(bank_match)
        out.append(
            {
                **m.to_json(),
                "value": value,
                "distance": distance,
                "banks": bank_match.banks,
                "exchanges": shown_exchanges(bank_match, reads),
            }
        )
    return {
        "hashes": signals,
        "matches": out,
        "known_good": known_good,
        "suppressed_by": resolved.suppressed_by,
        "image_error": None,
    }


async def match_hashes_answer(
    state: ServiceState,
    key: ApiKey,
    signals: dict[str, str],
    quality: int | None,
    uploader_ref: str | None = None,
    incident_time: datetime | None = None,
) -> dict[str, Any]:
    """The answer to hashes the client computed: at once when they match nothing (the
    common case, `ServiceState.quick_match`), else matched, resolved and acted on in a
    thread."""
    signals = clean_signals(signals)
    quick = state.quick_match(signals, key, quality)
    if quick is not None and not quick.matches:
        return match_answer(signals, Resolved(), quick.known_good, key)
    resolved, known_good = await run_in_threadpool(
        state.match_and_act,
        signals,
        quality,
        viewer=key,
        uploader_ref=uploader_ref,
        incident_time=incident_time,
    )
    return match_answer(signals, resolved, known_good, key, state.shown_distance)


@uploads.post("/v1/match/upload", response_model=MatchResponse)
async def match_upload(
    request: Request,
    state: StateDep,
    key: MatchKey,
    banks: Annotated[str | None, Query(description="Comma-separated bank names")] = None,
    uploader_ref: Annotated[str | None, Query(max_length=256)] = None,
    incident_time: Stampable | None = None,
) -> dict[str, Any]:
    """Hash the upload (raw body or one multipart file) in memory and match it.
    `uploader_ref` and `incident_time` go into the report drafts and webhooks it sets off.
    `image_error` says why image matching was skipped, if it was. Where the bank holds views
    of entries banked from files, the upload's views are hashed and matched too."""
    hashes = await hash_upload(state, request, views=QUERY_VIEWS if state.matcher.has_views else ())
    signals = hashes.signals()
    only = set(banks.split(",")) if banks else None
    resolved, known_good = await run_in_threadpool(
        state.match_and_act,
        signals,
        hashes.pdq_quality,
        hashes.pdq_variants,
        only=only,
        viewer=key,
        uploader_ref=uploader_ref,
        incident_time=incident_time,
        views=hashes.pdq_views,
    )
    answer = match_answer(signals, resolved, known_good, key, state.shown_distance)
    answer["image_error"] = image_error(hashes)
    return answer


@router.post("/v1/match/hashes", response_model=MatchResponse)
async def match_hashes(body: HashesIn, state: StateDep, key: MatchKey) -> dict[str, Any]:
    """Match hashes computed by the client."""
    return await match_hashes_answer(
        state, key, body.signals, body.pdq_quality, body.uploader_ref, body.incident_time
    )
