"""Signing in with an API key, and out."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hashwarden.service.inputs import read_limited
from hashwarden.service.routes.console.forms import Form
from hashwarden.service.routes.console.sessions import csrf_token, new_token, same_token
from hashwarden.service.routes.console.web import (
    PREFIX,
    SIGN_IN_COOKIE,
    Site,
    Visit,
    may_sign_in,
    safe_path,
    secure,
    set_cookie,
)
from hashwarden.service.state import ServiceState

__all__ = ["routes"]


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def routes(site: Site) -> None:
    def form(
        request: Request, secret: str, *, status: int = 200, message: str = "", kind: str = "error"
    ) -> Response:
        going = safe_path(request.query_params.get("next"), f"{PREFIX}/")
        response = site.render(
            "sign_in.html",
            request,
            status=status,
            title="Sign in",
            csrf=csrf_token(secret),
            going=going,
            message=message,
            kind=kind,
            idle=_duration(site.settings.idle_s),
        )
        set_cookie(response, request, SIGN_IN_COOKIE, secret)
        return secure(response, request)

    async def sign_in_page(request: Request) -> Response:
        secret = request.cookies.get(SIGN_IN_COOKIE) or new_token()
        message, kind = "", "done"
        if request.query_params.get("ended"):
            message = (
                f"Your session has ended: {_duration(site.settings.idle_s)} went by without"
                " activity, or its key was revoked. Sign in again."
            )
            kind = "error"
        elif request.query_params.get("out"):
            message = "You have signed out."
        return form(request, secret, message=message, kind=kind)

    async def sign_in(request: Request) -> Response:
        state: ServiceState = request.app.state.hashwarden
        posted = Form.urlencoded(await read_limited(request, state.settings.max_json_bytes))
        secret = request.cookies.get(SIGN_IN_COOKIE)
        if not secret or not same_token(posted.get("csrf") or None, csrf_token(secret)):
            return form(
                request,
                new_token(),
                status=403,
                message="The sign-in form was out of date (or cookies are off): try again.",
            )
        token = posted.get("key")
        key = await run_in_threadpool(state.keys.find, token) if token else None
        if key is None:
            return form(request, secret, status=401, message="Unknown or revoked API key.")
        if not may_sign_in(key):
            return form(
                request,
                secret,
                status=403,
                message=f"A {key.role} key cannot sign in to the console: it is a machine's"
                " key, for the API only. Sign in with a reviewer, curator, peer or admin key.",
            )
        going = safe_path(posted.get("next"), f"{PREFIX}/")
        return secure(await run_in_threadpool(site.begin, request, key, going), request)

    site.router.add_api_route("/sign-in", sign_in_page, methods=["GET"])
    site.router.add_api_route("/sign-in", sign_in, methods=["POST"])

    @site.page("/sign-out", post=True)
    def sign_out(v: Visit) -> Response:
        return site.end(v)
