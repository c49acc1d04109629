"""Named banks and their entries: create, change and delete banks; add entries by hashes or by
a file hashed in memory; list, export, change, disable, remove and vote on entries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, Field

from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.service.auth import ExportKey, ReadKey, VoteKey, WriteKey
from hashwarden.service.banks import DEFAULT_BANK, parse_until
from hashwarden.service.inputs import clean_signals, hash_upload, image_error
from hashwarden.service.state import ServiceState, StateDep
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.views import BANK_VIEWS

__all__ = [
    "AddedOut",
    "BankIn",
    "BankPatch",
    "EntryIn",
    "EntryOut",
    "EntryPatch",
    "VoteIn",
    "add_hashes",
    "router",
    "uploads",
]

router = APIRouter(tags=["banks"])
#: Routes that take an upload: the app includes them with the upload size limit.
uploads = APIRouter(tags=["banks"])

EntryId = Annotated[int, PathParam(ge=1, le=2**62)]


def _until(value: str | None) -> str | None:
    """`disabled_until` checked where it is parsed: an ISO 8601 time within years 1 to 9999
    in UTC, or empty (enable now)."""
    if not value:
        return value
    try:
        return parse_until(value)
    except (UsageError, OverflowError) as exc:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or time within years 1 to 9999 in UTC"
        ) from exc


Until = Annotated[str | None, AfterValidator(_until)]


class BankIn(BaseModel):
    name: str
    threshold: int | None = Field(None, ge=0, le=256)
    negative: bool = False
    matching_enabled_ratio: float = Field(1.0, ge=0.0, le=1.0)
    note: str | None = Field(None, max_length=1000)


class BankPatch(BaseModel):
    threshold: int | None = Field(None, ge=0, le=256)
    negative: bool | None = None
    matching_enabled_ratio: float | None = Field(None, ge=0.0, le=1.0)
    disabled_until: Until = Field(None, description="ISO 8601; empty string: enable now")
    note: str | None = Field(None, max_length=1000)


class EntryIn(BaseModel):
    """An entry added by its hashes."""

    signals: dict[str, str]
    category: str = "uncategorised"
    series: str | None = Field(None, max_length=200)
    victim_identified: bool = False
    note: str | None = Field(None, max_length=1000)


class EntryPatch(BaseModel):
    category: str | None = None
    series: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=1000)
    disabled_until: Until = Field(
        None, description="Stop it matching in this bank until then (ISO 8601); empty: enable"
    )


class VoteIn(BaseModel):
    vote: str = Field(..., pattern="^(confirm|dispute)$")
    reason: str | None = Field(None, max_length=1000)


class EntryOut(BaseModel):
    id: int
    signals: dict[str, str]
    category: str
    series: str | None
    victim_identified: bool
    source: str | None
    note: str | None
    added: str
    disabled_until: str | None = None


class AddedOut(BaseModel):
    ids: list[int]
    duplicates: int
    hashes: dict[str, str] = {}
    #: For an entry added by file: why it has no PDQ (not decodable, not an image), or null.
    image_error: str | None = None


def _entry_out(entry: Any, disabled_until: str | None = None) -> EntryOut:
    return EntryOut(
        id=entry.id,
        signals={s.kind: s.value for s in entry.signals},
        category=entry.category,
        series=entry.series,
        victim_identified=entry.victim_identified,
        source=entry.source,
        note=entry.note,
        added=entry.added,
        disabled_until=disabled_until,
    )


def add_hashes(
    state: ServiceState,
    bank_name: str,
    signals: dict[str, str],
    fields: dict[str, Any],
    actor: str,
    views: dict[str, str] | None = None,
) -> AddedOut:
    """Add one entry to a named bank; hashes that overlap an entry merge into it (its id is
    answered), hashes of two different entries are a ConflictError (409) naming both.
    `views`: the PDQ of views of the entry's picture (an entry added by file), banked with it
    unless it has some."""
    registry = default_registry()
    with state.locked() as bank:
        state.banks.get(bank_name)
        entry = NewEntry(
            [registry.signal(kind, value) for kind, value in signals.items()],
            category=parse_category(fields.get("category") or "uncategorised"),
            series=fields.get("series"),
            victim_identified=bool(fields.get("victim_identified")),
            source=actor,
            note=fields.get("note"),
            extra=dict(fields.get("extra") or {}),
        )
        with bank.db.transaction():  # the entry and its views, all or nothing
            result = bank.entries.add_many([entry], actor=actor, action="entry.add")
            ids = result.added or result.matched
            if views and ids:
                bank.views.add({ids[0]: views}, replace=False, actor=actor)
        state.banks.add_members(bank_name, ids, actor=actor)
    if state.recent is not None:
        state.catch_up()
    return AddedOut(ids=ids, duplicates=result.duplicates, hashes=signals)


def _require_in_bank(state: ServiceState, bank: BankStore, name: str, entry_id: int) -> None:
    """404 unless the entry is in the named bank (`default`: in none); caller holds the lock."""
    if name == DEFAULT_BANK:
        bank.entries.get(entry_id)
        if state.banks.memberships([entry_id]):
            raise NotFoundError(f"entry {entry_id} is not in bank {name!r}")
        return
    state.banks.get(name)
    if name not in {b for b, _ in state.banks.memberships([entry_id]).get(entry_id, [])}:
        raise NotFoundError(f"entry {entry_id} is not in bank {name!r}")


@router.get("/v1/banks")
def list_banks(state: StateDep, key: ReadKey) -> list[dict[str, Any]]:
    with state.locked():
        return [b.to_json() for b in state.banks.all()]


@router.post("/v1/banks", status_code=201)
def create_bank(body: BankIn, state: StateDep, key: WriteKey) -> dict[str, Any]:
    with state.locked():
        bank = state.banks.create(
            body.name,
            threshold=body.threshold,
            negative=body.negative,
            enabled_ratio=body.matching_enabled_ratio,
            note=body.note,
            actor=key.name,
        )
    return bank.to_json()


@router.get("/v1/banks/{name}")
def get_bank(name: str, state: StateDep, key: ReadKey) -> dict[str, Any]:
    with state.locked():
        return state.banks.get(name).to_json()


@router.patch("/v1/banks/{name}")
def update_bank(name: str, body: BankPatch, state: StateDep, key: WriteKey) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if "matching_enabled_ratio" in changes:
        changes["enabled_ratio"] = changes.pop("matching_enabled_ratio")
    if changes.get("disabled_until") == "":
        changes["disabled_until"] = None
    if any(v is None for k, v in changes.items() if k in ("negative", "enabled_ratio")):
        raise HTTPException(422, "negative and matching_enabled_ratio cannot be null")
    with state.locked():
        return state.banks.update(name, changes, actor=key.name).to_json()


@router.delete("/v1/banks/{name}", status_code=204)
def delete_bank(name: str, state: StateDep, key: WriteKey) -> Response:
    with state.locked():
        state.banks.delete(name, actor=key.name)
    return Response(status_code=204)


@router.post("/v1/banks/{name}/entries", response_model=AddedOut, status_code=201)
def add_entry(name: str, body: EntryIn, state: StateDep, key: WriteKey) -> AddedOut:
    """Add an entry by its hashes."""
    signals = clean_signals(body.signals)
    return add_hashes(state, name, signals, body.model_dump(), key.name)


@uploads.post("/v1/banks/{name}/entries/upload", response_model=AddedOut, status_code=201)
async def add_entry_by_file(
    name: str,
    request: Request,
    state: StateDep,
    key: WriteKey,
    category: str = "uncategorised",
    series: str | None = None,
    note: str | None = None,
) -> AddedOut:
    """Add an entry by a file (raw body or one multipart file), hashed in memory;
    `image_error` says why it has no PDQ, if it has none. The PDQ of views of the picture are
    banked with it, so cropped and captioned copies match."""
    hashes = await hash_upload(state, request, views=BANK_VIEWS)
    signals = {k: v for k, v in hashes.signals().items() if k in ("md5", "sha1", "sha256")}
    if hashes.pdq is not None and (hashes.pdq_quality or 0) >= 50:
        signals["pdq"] = hashes.pdq
    fields = {"category": category, "series": series, "note": note}
    added = await run_in_threadpool(
        add_hashes, state, name, signals, fields, key.name, hashes.pdq_views
    )
    added.image_error = image_error(hashes)
    return added


@router.get("/v1/banks/{name}/entries", response_model=list[EntryOut])
def list_entries(
    name: str,
    state: StateDep,
    key: ReadKey,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryOut]:
    """A page of a bank's entries with their hashes, in id order (`after`: last id seen)."""
    with state.locked() as bank:
        if name == DEFAULT_BANK:
            raise HTTPException(422, "list the default bank with `hashwarden bank export`")
        members = state.banks.members(name, limit=limit, after=after)
        entries = bank.entries.by_id([i for i, _ in members])
    return [_entry_out(entries[i], until) for i, until in members if i in entries]


@router.get("/v1/banks/{name}/export")
def export_bank(name: str, state: StateDep, key: ExportKey) -> Response:
    """Every entry of a named bank as JSON lines (for peers and curators)."""
    lines = []
    with state.locked() as bank:
        after = 0
        while True:
            members = state.banks.members(name, limit=1000, after=after)
            if not members:
                break
            entries = bank.entries.by_id([i for i, _ in members])
            lines += [_entry_out(entries[i], u).model_dump_json() for i, u in members]
            after = members[-1][0]
    return Response("\n".join(lines) + ("\n" if lines else ""), media_type="application/x-ndjson")


@router.get("/v1/entries/{entry_id}", response_model=EntryOut)
def get_entry(entry_id: EntryId, state: StateDep, key: ReadKey) -> EntryOut:
    with state.locked() as bank:
        return _entry_out(bank.entries.get(entry_id))


@router.patch("/v1/banks/{name}/entries/{entry_id}", response_model=EntryOut)
def update_entry(
    name: str, entry_id: EntryId, body: EntryPatch, state: StateDep, key: WriteKey
) -> EntryOut:
    """Change an entry's category, series or note, or disable it in this bank until a time.
    404, changing nothing, unless the entry is in that bank."""
    changes = body.model_dump(exclude_unset=True)
    until = changes.pop("disabled_until", None) if "disabled_until" in changes else ...
    with state.locked() as bank:
        _require_in_bank(state, bank, name, entry_id)
        if changes:
            if "category" in changes:
                if changes["category"] is None:
                    raise HTTPException(422, "category cannot be null")
                changes["category"] = parse_category(changes["category"])
            bank.entries.update(entry_id, actor=key.name, **changes)
        if until is not ...:
            state.banks.disable_member(name, entry_id, until or None, actor=key.name)
        memberships = dict(state.banks.memberships([entry_id]).get(entry_id, []))
        return _entry_out(bank.entries.get(entry_id), memberships.get(name))


@router.delete("/v1/banks/{name}/entries/{entry_id}", status_code=204)
def remove_entry(name: str, entry_id: EntryId, state: StateDep, key: WriteKey) -> Response:
    """Take an entry out of a named bank; it leaves the bank when no named bank holds it."""
    with state.locked() as bank:
        state.banks.remove_member(name, entry_id, actor=key.name)
        if not state.banks.memberships([entry_id]):
            bank.entries.remove(entry_id, actor=key.name)
    return Response(status_code=204)


@router.post("/v1/entries/{entry_id}/votes")
def vote(entry_id: EntryId, body: VoteIn, state: StateDep, key: VoteKey) -> dict[str, Any]:
    """Confirm or dispute an entry; kept with the voting key's name."""
    with state.locked() as bank:
        category = bank.provenance.vote(
            entry_id, key.name, body.vote, reason=body.reason, actor=key.name
        )
    return {"id": entry_id, "vote": body.vote, "by": key.name, "category": category}
