"""API keys (admin): list, create (the key shown once, on the answer to the form), revoke.
Through `keys.create_key` and `keys.revoke_key`, audited under the admin key's name."""

from __future__ import annotations

from fastapi.responses import Response

from hashwarden.service.keys import ROLES, create_key, list_keys, revoke_key
from hashwarden.service.routes.console.web import PREFIX, Site, Visit

__all__ = ["routes"]


def routes(site: Site) -> None:
    def page(v: Visit, *, created: tuple[str, str] | None = None, status: int = 200) -> Response:
        with v.locked() as bank:
            found = list_keys(bank)
        return v.render(
            "keys.html", title="Keys", keys=found, roles=ROLES, created=created, status=status
        )

    @site.page("/keys", "admin")
    def keys(v: Visit) -> Response:
        return page(v)

    @site.page("/keys", "admin", post=True)
    def create(v: Visit) -> Response:
        name = v.form.get("name")
        rate = v.form.number("rate", "Requests a minute", least=1, most=10**6)
        with v.locked() as bank:
            token = create_key(
                bank, name, v.form.get("role"), rate_per_minute=rate, actor=v.key.name
            )
        # Shown on this answer only (not a redirect: the key must never be kept to show).
        return page(v, created=(name, token), status=201)

    @site.page("/keys/{name}/revoke", "admin", post=True)
    def revoke(v: Visit) -> Response:
        name = v.param("name")
        with v.locked() as bank:
            revoke_key(bank, name, actor=v.key.name)
        return v.done(f"{PREFIX}/keys", f"Key {name} revoked.")
