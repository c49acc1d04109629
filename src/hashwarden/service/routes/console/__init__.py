"""The web console: pages under `/ui/` for curators, reviewers and admins at work in a
browser, served by the match service itself (no CDN, no build step) and never showing an image.

Signing in with an API key makes a server-side session (`sessions`); every page needs the
permission the API needs for the same thing (`keys.PERMISSIONS`) and calls the functions the
API's routes call, so every change is audited under the key's name. See docs/console.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from hashwarden.service.routes.console.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "console_router"]


def console_router(settings: ConsoleSettings | None = None) -> APIRouter:
    """The console's routes (the app keeps its state in `app.state.hashwarden`)."""
    from hashwarden.service.routes.console.pages import (
        alerts,
        banks,
        blocklist,
        dashboard,
        entries,
        keys,
        reports,
        rules,
        signin,
        statistics,
    )
    from hashwarden.service.routes.console.web import Site

    site = Site(settings or ConsoleSettings.from_env())
    for pages in (
        signin,
        dashboard,
        banks,
        entries,
        reports,
        alerts,
        rules,
        keys,
        blocklist,
        statistics,
    ):
        pages.routes(site)
    return site.router
