"""The one place errors become HTTP answers: a status and `{"detail": ...}`.

- `HashwardenError`: its `http_status` (`errors.py`) and its message; a `UsageError` (400) in
  a `CheckedBodyRoute` (the action routes, whose bodies the library checks as a whole) is 422,
  as pydantic's checks are;
- `HTTPException` (raised by routes and by FastAPI itself: 404, 405, 413 ...): its status,
  detail and headers;
- request validation (pydantic): 422 with the list of what failed.

`install_error_handlers` registers them on an app; the fast lane calls `error_response`, and
so does a `CheckedBodyRoute` (its router then answers the same in any app).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from hashwarden.errors import HashwardenError

__all__ = ["CheckedBodyRoute", "error_response", "install_error_handlers"]


def error_response(exc: Exception, *, bad_input_status: int = 400) -> Response:
    """The answer to a deliberate error; anything else is re-raised (a server error, answered
    500 by the framework). `bad_input_status`: a `UsageError`'s status."""
    if isinstance(exc, HashwardenError):
        status = exc.http_status
        if status == 400:
            status = bad_input_status
        return JSONResponse({"detail": str(exc)}, status_code=status)
    if isinstance(exc, HTTPException):
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    if isinstance(exc, RequestValidationError):
        return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
    raise exc


async def _handle(request: Request, exc: Exception) -> Response:
    return error_response(exc)


class CheckedBodyRoute(APIRoute):
    """A route whose input the library checks: it answers the library's errors itself, a
    `UsageError` as 422 (not 400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except HashwardenError as exc:
                return error_response(exc, bad_input_status=422)

        return answer


def install_error_handlers(app: FastAPI) -> None:
    """Answer every deliberate error of `app` through `error_response`."""
    for kind in (HashwardenError, HTTPException, RequestValidationError):
        app.add_exception_handler(kind, _handle)
