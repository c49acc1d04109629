"""Named banks: list, create, change (threshold, negative, matching ratio, disabled until,
note), delete, and a bank's entries. Through `NamedBanks`, as the API's bank routes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from hashwarden.service.banks import parse_until
from hashwarden.service.routes.console.web import PREFIX, Site, Visit

__all__ = ["routes"]

#: Entries on one page of a bank.
PAGE = 50


def _settings(v: Visit) -> dict[str, Any]:
    """The bank fields of a posted form, checked (UsageError naming the wrong one)."""
    form = v.form
    until = form.get("disabled_until")
    return {
        "threshold": form.number("threshold", "Threshold", least=0, most=256),
        "negative": form.flag("negative"),
        "enabled_ratio": 1.0 if not form.get("ratio") else form.ratio("ratio", "Enabled ratio"),
        "disabled_until": parse_until(until) if until else None,
        "note": form.optional("note"),
    }


def routes(site: Site) -> None:
    @site.page("/banks", "read")
    def banks(v: Visit) -> Response:
        with v.locked():
            found = [b.to_json() for b in v.state.banks.all()]
        return v.render("banks.html", title="Banks", banks=found)

    @site.page("/banks", "write", post=True)
    def create(v: Visit) -> Response:
        fields = _settings(v)
        name = v.form.get("name")
        with v.locked():
            v.state.banks.create(
                name,
                threshold=fields["threshold"],
                negative=fields["negative"],
                enabled_ratio=fields["enabled_ratio"],
                note=fields["note"],
                actor=v.key.name,
            )
        return v.done(f"{PREFIX}/banks/{name}", f"Bank {name} created.")

    @site.page("/banks/{name}", "read")
    def bank(v: Visit) -> Response:
        name = v.param("name")
        after = v.after()
        with v.locked() as store:
            found = v.state.banks.get(name).to_json()
            members = v.state.banks.members(name, limit=PAGE, after=after)
            entries = store.entries.by_id([i for i, _ in members])
        rows = [(entries[i], until) for i, until in members if i in entries]
        more = f"after={members[-1][0]}" if len(members) == PAGE else None
        return v.render(
            "bank.html", title=f"Bank {name}", bank=found, rows=rows, more=more, first=after > 0
        )

    @site.page("/banks/{name}", "write", post=True)
    def change(v: Visit) -> Response:
        name = v.param("name")
        with v.locked():
            v.state.banks.update(name, _settings(v), actor=v.key.name)
        return v.done(f"{PREFIX}/banks/{name}", f"Bank {name} changed.")

    @site.page("/banks/{name}/delete", "write", post=True)
    def delete(v: Visit) -> Response:
        name = v.param("name")
        with v.locked():
            v.state.banks.delete(name, actor=v.key.name)
        return v.done(f"{PREFIX}/banks", f"Bank {name} deleted; its entries stay in the bank.")
