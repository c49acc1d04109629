"""Entries: search (a hash of any kind, a category, a series, a source or an organisation),
an entry's signals, banks, provenance, votes, conflicts and audit history; add by hash or by
file (hashed in memory, then dropped), edit, disable in a bank until a time, remove, vote.
Changes go through the functions the API's entry routes call, audited under the key's name."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hashwarden.bank.categories import CATEGORIES, parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import HashwardenError, UsageError
from hashwarden.service.banks import DEFAULT_BANK, parse_until
from hashwarden.service.inputs import clean_signals
from hashwarden.service.routes.banks import add_hashes
from hashwarden.service.routes.console.web import PREFIX, Refused, Site, Visit
from hashwarden.signals.registry import default_registry

__all__ = ["routes"]

#: Entries on one page of search results.
PAGE = 50
#: Hash kinds offered when adding an entry by hash.
ADD_KINDS = ("pdq", "md5", "sha1", "sha256", "photodna", "vpdq")


def categories() -> list[tuple[str, str]]:
    return [(c.name, f"{c.name}: {c.label}") for c in CATEGORIES.values()]


def by_hash(bank: BankStore, text: str) -> list[int]:
    """The entries holding `text` as a hash of any kind it is valid for."""
    registry = default_registry()
    found: set[int] = set()
    for kind in registry.names():
        try:
            value = registry.get(kind).normalize(text)
        except (HashwardenError, ValueError):
            continue
        found.update(bank.entries.lookup(kind, [value]).values())
    return sorted(found)


def _entry_id(v: Visit) -> int:
    text = v.param("entry_id")
    if not text.isdigit() or len(text) > 18:
        raise Refused(404, f"There is no entry {text!r}.")
    return int(text)


def _bank_of(v: Visit) -> str:
    name = v.form.get("bank")
    if not name:
        raise UsageError("choose a bank")
    return name


def routes(site: Site) -> None:
    @site.page("/entries", "read")
    def search(v: Visit) -> Response:
        term = v.query("q")[:2000]
        after = v.after()
        rows, more = [], None
        with v.locked() as bank:
            if term:
                ids = by_hash(bank, term) if after == 0 else []
                hashed = bank.entries.by_id(ids)
                rows = [hashed[i] for i in ids if i in hashed]
                page = bank.entries.find(term, after=after, limit=PAGE)
                rows += [e for e in page if e.id not in hashed]
                if len(page) == PAGE:
                    more = urlencode({"q": term, "after": page[-1].id})
            names = [b.name for b in v.state.banks.all()]
        return v.render(
            "entries.html",
            title="Entries",
            term=term,
            rows=rows,
            more=more,
            first=after > 0,
            banks=names,
            categories=categories(),
            kinds=ADD_KINDS,
        )

    @site.page("/entries", "write", post=True)
    def add(v: Visit) -> Response:
        bank_name = _bank_of(v)
        signals = clean_signals({v.form.get("kind"): v.form.get("value")})
        fields = {
            "category": v.form.get("category") or "uncategorised",
            "series": v.form.optional("series"),
            "note": v.form.optional("note"),
        }
        added = add_hashes(v.state, bank_name, signals, fields, v.key.name)
        return _added(v, added.ids, added.duplicates)

    @site.page("/entries/upload", "write", post=True, upload=True)
    async def upload(v: Visit) -> Response:
        state, body = v.state, v.body or b""
        v.body = None
        hashes = await state.decodes.hash(
            v.request.headers.get("content-type", ""),
            body,
            max_parts=state.settings.max_multipart_parts,
            max_pixels=state.settings.max_upload_pixels,
            timeout_s=state.settings.request_timeout_s,
        )
        del body
        if hashes.image_over_limit:
            raise UsageError(hashes.image_error or "the image is too large")
        signals = {k: v for k, v in hashes.signals().items() if k in ("md5", "sha1", "sha256")}
        if not signals:
            raise UsageError("choose a file to hash")
        if hashes.pdq is not None and (hashes.pdq_quality or 0) >= 50:
            signals["pdq"] = hashes.pdq
        fields = {
            "category": v.form.get("category") or "uncategorised",
            "series": v.form.optional("series"),
        }
        added = await run_in_threadpool(add_hashes, state, _bank_of(v), signals, fields, v.key.name)
        return await run_in_threadpool(_added, v, added.ids, added.duplicates)

    @site.page("/entries/{entry_id}", "read")
    def show(v: Visit) -> Response:
        entry_id = _entry_id(v)
        with v.locked() as bank:
            entry = bank.entries.get(entry_id)
            facts: dict[str, Any] = {
                "banks": v.state.banks.memberships([entry_id]).get(entry_id, []),
                "claims": bank.provenance.claims(entry_id),
                "votes": bank.provenance.votes(entry_id),
                "conflict": bank.provenance.conflicts().get(entry_id, {}),
                "history": bank.audit.history(entry_id)[::-1],
            }
            names = [b.name for b in v.state.banks.all()]
        return v.render(
            "entry.html",
            title=f"Entry {entry_id}",
            entry=entry,
            facts=facts,
            all_banks=names,
            categories=categories(),
        )

    @site.page("/entries/{entry_id}", "write", post=True)
    def edit(v: Visit) -> Response:
        entry_id = _entry_id(v)
        changes = {
            "category": parse_category(v.form.get("category") or "uncategorised"),
            "series": v.form.optional("series"),
            "note": v.form.optional("note"),
        }
        with v.locked() as bank:
            bank.entries.update(entry_id, actor=v.key.name, **changes)
        return v.done(f"{PREFIX}/entries/{entry_id}", f"Entry {entry_id} changed.")

    @site.page("/entries/{entry_id}/disable", "write", post=True)
    def disable(v: Visit) -> Response:
        entry_id, name = _entry_id(v), _bank_of(v)
        text = v.form.get("until")
        until = parse_until(text) if text else None
        with v.locked():
            v.state.banks.disable_member(name, entry_id, until, actor=v.key.name)
        message = (
            f"Entry {entry_id} does not match in bank {name} until {until}."
            if until
            else f"Entry {entry_id} matches in bank {name} again."
        )
        return v.done(f"{PREFIX}/entries/{entry_id}", message)

    @site.page("/entries/{entry_id}/remove", "write", post=True)
    def remove(v: Visit) -> Response:
        entry_id, name = _entry_id(v), _bank_of(v)
        with v.locked() as bank:
            if name != DEFAULT_BANK:
                v.state.banks.remove_member(name, entry_id, actor=v.key.name)
            gone = not v.state.banks.memberships([entry_id])
            if gone:
                bank.entries.remove(entry_id, actor=v.key.name)
        if gone:
            return v.done(f"{PREFIX}/entries", f"Entry {entry_id} removed from the bank.")
        return v.done(f"{PREFIX}/entries/{entry_id}", f"Entry {entry_id} left bank {name}.")

    @site.page("/entries/{entry_id}/vote", "vote", post=True)
    def vote(v: Visit) -> Response:
        entry_id = _entry_id(v)
        choice = v.form.get("vote")
        with v.locked() as bank:
            category = bank.provenance.vote(
                entry_id, v.key.name, choice, reason=v.form.optional("reason"), actor=v.key.name
            )
        return v.done(
            f"{PREFIX}/entries/{entry_id}",
            f"Your {choice} vote on entry {entry_id} is kept; its category is now {category}.",
        )


def _added(v: Visit, ids: list[int], duplicates: int) -> Response:
    if not ids:
        return v.done(f"{PREFIX}/entries", "Nothing was added.", "error")
    joined = ", ".join(str(i) for i in ids)
    if duplicates:
        return v.done(f"{PREFIX}/entries/{ids[0]}", f"Already in the bank as entry {joined}.")
    return v.done(f"{PREFIX}/entries/{ids[0]}", f"Entry {joined} added.")
