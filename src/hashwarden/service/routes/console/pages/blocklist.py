"""The curator's URL block list (curator and admin): search and page through it, add an entry
(domain, prefix or URL, reason, expiry), remove one, expire those whose day has come, and see
its published versions. The list file is named by HASHWARDEN_BLOCKLIST (`ConsoleSettings`).

The store is the one place names stay in clear: only these roles see them, and the bank's
audit log records each change under the key's name by its digest and version, never the name.
`hashwarden.blocking` is imported here, lazily, so a service nobody opens this page on never
loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi.responses import Response

from hashwarden.errors import NotFoundError, UsageError
from hashwarden.service.routes.console.web import PREFIX, Refused, Site, Visit

if TYPE_CHECKING:
    from hashwarden.blocking.store import BlockList

__all__ = ["routes"]

#: Entries on one page; published versions shown.
PAGE = 50
VERSIONS = 20
#: One change at a time to the list file from this worker (the file has no WAL).
_WRITING = threading.Lock()


@contextmanager
def _opened(v: Visit, *, create: bool = False) -> Iterator[BlockList | None]:
    """The list file, or None when it does not exist yet (and `create` is false)."""
    from hashwarden.blocking.store import BlockList

    path = v.site.settings.blocklist
    if path is None:
        raise Refused(
            404,
            "The block list is not configured: start the service with HASHWARDEN_BLOCKLIST"
            " naming the curator's list file.",
        )
    if not path.exists() and not create:
        yield None
        return
    with _WRITING, BlockList.open(path, create=create) as store:
        yield store


def _audit(v: Visit, action: str, details: dict[str, Any]) -> None:
    with v.locked() as bank, bank.db.transaction():
        bank.audit.record(v.key.name, action, details)


def routes(site: Site) -> None:
    @site.page("/blocklist", "write")
    def blocklist(v: Visit) -> Response:
        from hashwarden.blocking.store import KINDS

        search, kind, after = v.query("q").lower(), v.query("kind"), v.query("after")
        if kind and kind not in KINDS:
            raise Refused(422, f"An entry is a domain, a prefix or a url, not {kind!r}.")
        rows: list[Any] = []
        counts, version, versions, list_id = {k: 0 for k in KINDS}, 0, [], None
        with _opened(v) as store:
            if store is not None:
                for entry in store.entries(kind or None):
                    if entry.expression <= after or search not in entry.expression:
                        continue
                    rows.append(entry)
                    if len(rows) > PAGE:
                        break
                counts, version, list_id = store.counts(), store.version, store.list_id
                versions = store.changes(max(0, version - VERSIONS))[::-1]
        more = None
        if len(rows) > PAGE:
            rows = rows[:PAGE]
            more = urlencode(
                {n: x for n, x in (("q", search), ("kind", kind)) if x}
                | {"after": rows[-1].expression}
            )
        query = urlencode({n: x for n, x in (("q", search), ("kind", kind)) if x})
        return v.render(
            "blocklist.html",
            title="Block list",
            rows=rows,
            search=search,
            kind=kind,
            kinds=KINDS,
            counts=counts,
            version=version,
            versions=versions,
            list_id=list_id,
            path=str(v.site.settings.blocklist),
            more=more,
            first=bool(after),
            query=query,
        )

    @site.page("/blocklist", "write", post=True)
    def add(v: Visit) -> Response:
        from hashwarden.blocking.store import parse_expiry

        kind, value = v.form.get("kind"), v.form.get("value")
        if not value:
            raise UsageError("Give the domain, prefix or URL to block.")
        try:
            expires = parse_expiry(v.form.get("expires") or None)
        except UsageError:
            raise UsageError("Expires: give a day ahead, as YYYY-MM-DD.") from None
        with _opened(v, create=True) as store:
            assert store is not None
            entry = store.add(
                kind,
                value,
                source=v.form.optional("source"),
                reason=v.form.optional("reason"),
                expires=expires,
            )
            version = store.version
        _audit(
            v,
            "blocklist.add",
            {"kind": entry.kind, "digest": entry.digest.hex(), "version": version},
        )
        return v.done(f"{PREFIX}/blocklist", f"Added {entry.kind} {entry.expression}.")

    @site.page("/blocklist/remove", "write", post=True)
    def remove(v: Visit) -> Response:
        with _opened(v) as store:
            if store is None:
                raise NotFoundError("The block list is empty.")
            entry = store.remove(v.form.get("kind"), v.form.get("expression"))
            version = store.version
        _audit(
            v,
            "blocklist.remove",
            {"kind": entry.kind, "digest": entry.digest.hex(), "version": version},
        )
        return v.done(v.back(), f"Removed {entry.kind} {entry.expression}.")

    @site.page("/blocklist/expire", "write", post=True)
    def expire(v: Visit) -> Response:
        with _opened(v) as store:
            gone = 0 if store is None else store.expire()
            version = 0 if store is None else store.version
        if gone:
            _audit(v, "blocklist.expire", {"removed": gone, "version": version})
        return v.done(f"{PREFIX}/blocklist", f"{gone} expired entries removed.")
