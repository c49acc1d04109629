"""How a console page is served: the session and the key behind it, the permission the page
needs (the API's, from `keys.PERMISSIONS`), the CSRF token of every posted form, the security
headers of every answer, and errors as pages (4xx with a message, never a traceback).

A page is a function of a `Visit` registered with `Site.page`; it runs in a thread (bank work
never runs on the event loop), or on the loop when it is a coroutine (an upload to hash). A
posted form that succeeds or fails answers 303 to a page that shows its message once (kept in
the session), so reloading a page never posts a form again.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hashwarden.bank.protocols import BankStore
from hashwarden.errors import HashwardenError
from hashwarden.service.inputs import read_limited
from hashwarden.service.keys import ApiKey, key_named
from hashwarden.service.routes.console.forms import Form, multipart_fields
from hashwarden.service.routes.console.sessions import (
    Session,
    SessionStore,
    csrf_token,
    new_token,
    same_token,
)
from hashwarden.service.routes.console.settings import ConsoleSettings
from hashwarden.service.state import ServiceState

__all__ = [
    "NAV",
    "PREFIX",
    "Refused",
    "Site",
    "Visit",
    "may_sign_in",
]

PREFIX = "/ui"
SESSION_COOKIE = "hashwarden_session"
SIGN_IN_COOKIE = "hashwarden_sign_in"
_HERE = Path(__file__).parent

#: No script but the console's own file, no inline script, no image of any kind, no frame.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'none';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), clipboard-read=()",
}

#: The navigation bar: link name, path, the permission that shows it (None: every role).
NAV: list[tuple[str, str, str | None]] = [
    ("Dashboard", f"{PREFIX}/", None),
    ("Banks", f"{PREFIX}/banks", "read"),
    ("Entries", f"{PREFIX}/entries", "read"),
    ("Reports", f"{PREFIX}/reports", "review"),
    ("Alerts", f"{PREFIX}/alerts", "review"),
    ("Agents", f"{PREFIX}/agents", "review"),
    ("Rules", f"{PREFIX}/rules", "admin"),
    ("Keys", f"{PREFIX}/keys", "admin"),
    ("Block list", f"{PREFIX}/blocklist", "write"),
    ("Statistics", f"{PREFIX}/statistics", "statistics"),
]

#: Permissions of people at work; a role with none of them (a matcher, an agent) is a
#: machine's and may not sign in.
CONSOLE_PERMISSIONS = ("read", "review", "write", "admin")


def may_sign_in(key: ApiKey) -> bool:
    return any(key.may(p) for p in CONSOLE_PERMISSIONS)


class Refused(Exception):
    """A page that cannot be shown or a form that cannot be done: its status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def safe_path(path: str | None, default: str = f"{PREFIX}/") -> str:
    """A path inside the console to send the browser to (never another site)."""
    if (
        not path
        or not path.startswith(f"{PREFIX}/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(c) < 33 for c in path)
    ):
        return default
    return path


def secure(response: Response, request: Request, *, cache: bool = False) -> Response:
    """Every console answer's security headers."""
    for name, value in _HEADERS.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "private, max-age=3600" if cache else "no-store"
    if request.url.scheme == "https":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=f"{PREFIX}/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name,
        path=f"{PREFIX}/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


@dataclass
class Visit:
    """One request of a signed-in key: what a page works with."""

    request: Request
    site: Site
    state: ServiceState
    key: ApiKey
    session: Session
    token: str
    form: Form = field(default_factory=Form)
    #: A multipart form's whole body (the upload to hash), else None.
    body: bytes | None = None
    #: The message to show on this page (from the form posted before).
    flash: tuple[str, str] | None = None

    def may(self, permission: str) -> bool:
        return self.key.may(permission)

    @contextmanager
    def locked(self) -> Iterator[BankStore]:
        """The bank, under the worker's lock (a page runs in a thread)."""
        with self.state.locked() as bank:
            yield bank

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def after(self, name: str = "after") -> int:
        """A paging position (an id) from the query; 0 when absent or not a number."""
        text = self.query(name, "0")
        return int(text) if text.isdigit() and len(text) < 19 else 0

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return self.site.render(
            template,
            self.request,
            status=status,
            key=self.key,
            csrf=csrf_token(self.token),
            flash=self.flash,
            **context,
        )

    def done(self, path: str, message: str, kind: str = "done") -> Response:
        """303 to `path`, which shows `message` once."""
        with self.state.locked() as bank:
            self.site.sessions(bank).touch(self.session, flash=(kind, message))
        return RedirectResponse(safe_path(path), status_code=303)

    def back(self) -> str:
        """The page the posted form was on."""
        return safe_path(self.form.get("back"))


Handler = Callable[[Visit], Response] | Callable[[Visit], Awaitable[Response]]


class Site:
    """The console's routes, templates and static files."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.router = APIRouter(prefix=PREFIX, include_in_schema=False)
        self.nav = list(NAV)
        self.templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.static: dict[str, tuple[bytes, str]] = {}
        for name, media in (("console.css", "text/css"), ("console.js", "text/javascript")):
            self.static[name] = ((_HERE / "static" / name).read_bytes(), media)
        self.templates.globals["asset"] = self.asset
        self.templates.filters["zip_self"] = lambda items: [(item, item) for item in items]
        self.router.add_api_route("/static/{name}", self._asset, methods=["GET"])

    def asset(self, name: str) -> str:
        """An asset's path, with its content's digest so a changed file is fetched again."""
        version = hashlib.sha256(self.static[name][0]).hexdigest()[:12]
        return f"{PREFIX}/static/{name}?v={version}"

    async def _asset(self, request: Request) -> Response:
        found = self.static.get(str(request.path_params["name"]))
        if found is None:
            return secure(self.error(request, 404, "There is no such file."), request)
        body, media = found
        return secure(Response(body, media_type=media), request, cache=True)

    def sessions(self, bank: BankStore) -> SessionStore:
        return SessionStore(bank, idle_s=self.settings.idle_s, max_age_s=self.settings.max_age_s)

    def render(
        self,
        template: str,
        request: Request,
        *,
        status: int = 200,
        key: ApiKey | None = None,
        **context: Any,
    ) -> HTMLResponse:
        nav = [
            (label, path, request.url.path == path or request.url.path.startswith(path + "/"))
            for label, path, permission in self.nav
            if key is not None and (permission is None or key.may(permission))
        ]
        context.setdefault("flash", None)
        context.setdefault("csrf", "")
        html = self.templates.get_template(template).render(
            key=key,
            nav=nav,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(
        self, request: Request, status: int, message: str, visit: Visit | None = None
    ) -> Response:
        if visit is not None:
            return visit.render("error.html", status=status, title="Not possible", message=message)
        return self.render(
            "error.html", request, status=status, title="Not possible", message=message
        )

    # -- pages -----------------------------------------------------------------------------
    def page(
        self,
        path: str,
        permission: str | None = None,
        *,
        post: bool = False,
        upload: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a page (GET) or a form's target (POST) that needs `permission`."""

        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                return secure(
                    await self._serve(request, handler, permission, post, upload), request
                )

            self.router.add_api_route(
                path, endpoint, methods=["POST" if post else "GET"], name=handler.__name__
            )
            return handler

        return register

    async def _serve(
        self,
        request: Request,
        handler: Handler,
        permission: str | None,
        post: bool,
        upload: bool,
    ) -> Response:
        state: ServiceState = request.app.state.hashwarden
        form, body = Form(), None
        visit: Visit | None = None
        try:
            if post:
                content_type = request.headers.get("content-type", "")
                if upload:
                    body = await read_limited(request, state.settings.max_upload_bytes)
                    form = multipart_fields(content_type, body, state.settings.max_multipart_parts)
                else:
                    form = Form.urlencoded(
                        await read_limited(request, state.settings.max_json_bytes)
                    )
            found = await run_in_threadpool(self._visit, request, state, post)
            if isinstance(found, Response):
                return found
            visit = found
            visit.form, visit.body = form, body
            if permission is not None and not visit.may(permission):
                raise Refused(403, f"The {visit.key.role} role may not see this page.")
            if post and not same_token(form.get("csrf") or None, csrf_token(visit.token)):
                raise Refused(
                    403,
                    "This form was refused: its security token is missing or out of date."
                    " Open the page again and send the form from there.",
                )
            if inspect.iscoroutinefunction(handler):
                return await handler(visit)
            return await run_in_threadpool(handler, visit)  # type: ignore[arg-type]
        except Refused as exc:
            return self.error(request, exc.status, exc.message, visit)
        except (HashwardenError, HTTPException) as exc:
            status = exc.http_status if isinstance(exc, HashwardenError) else exc.status_code
            message = str(exc) if isinstance(exc, HashwardenError) else str(exc.detail)
            if post and visit is not None:
                back = visit.back()
                return await run_in_threadpool(visit.done, back, message, "error")
            return self.error(request, 422 if status == 400 else status, message, visit)

    def _visit(self, request: Request, state: ServiceState, post: bool) -> Visit | Response:
        """The signed-in visit, or the answer for a visitor who is not: to the sign-in page."""
        token = request.cookies.get(SESSION_COOKIE)
        going = request.url.path if not post else f"{PREFIX}/"
        if not token:
            return self.to_sign_in(request, going)
        with state.locked() as bank:
            store = self.sessions(bank)
            session, ended = store.find(token)
            if session is None:
                return self.to_sign_in(request, going, expired=ended)
            key = key_named(bank, session.key_name)
            if key is None or key.revoked is not None or not may_sign_in(key):
                store.end(token)
                return self.to_sign_in(request, going, expired=True)
            # A page shows the message the last form left, once; a form keeps it.
            store.touch(session, flash=session.flash if post else None)
        return Visit(request, self, state, key, session, token, flash=session.flash)

    def to_sign_in(self, request: Request, going: str, *, expired: bool = False) -> Response:
        query = f"?next={quote(going)}" + ("&ended=1" if expired else "")
        response = RedirectResponse(f"{PREFIX}/sign-in{query}", status_code=303)
        if expired:
            clear_cookie(response, request, SESSION_COOKIE)
        return response

    def begin(self, request: Request, key: ApiKey, going: str) -> Response:
        """Sign in: a new session for `key` (audited), its cookie, and on to `going`."""
        state: ServiceState = request.app.state.hashwarden
        token = new_token()
        with state.locked() as bank:
            self.sessions(bank).begin(token, key.name)
            with bank.db.transaction():
                bank.audit.record(key.name, "console.sign_in", {"role": key.role})
        response = RedirectResponse(safe_path(going), status_code=303)
        set_cookie(response, request, SESSION_COOKIE, token)
        clear_cookie(response, request, SIGN_IN_COOKIE)
        return response

    def end(self, visit: Visit) -> Response:
        with visit.locked() as bank:
            self.sessions(bank).end(visit.token)
            with bank.db.transaction():
                bank.audit.record(visit.key.name, "console.sign_out", {})
        response = RedirectResponse(f"{PREFIX}/sign-in?out=1", status_code=303)
        clear_cookie(response, visit.request, SESSION_COOKIE)
        return response
