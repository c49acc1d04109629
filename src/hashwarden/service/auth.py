"""Who is calling: the API key in `Authorization: Bearer KEY`, the permission its role must
have for a route (see `keys.PERMISSIONS`), and its rate limit.

Routes name what they need by annotation (`key: MatchKey`); the fast lane calls
`authenticate` itself. Unless the deployment grants a role to keyless requests
(`keyless_role`), a request without a key is 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from hashwarden.service.keys import ApiKey
from hashwarden.service.state import ServiceState

__all__ = [
    "AdminKey",
    "AlertKey",
    "ExportKey",
    "MatchKey",
    "ReadKey",
    "ReviewKey",
    "VoteKey",
    "WriteKey",
    "authenticate",
    "bearer",
    "requirement",
]


def bearer(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, or None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(
    state: ServiceState, scope_state: dict[str, Any], authorization: str, permission: str
) -> ApiKey:
    """The caller's key, which must allow `permission` (401, 403), within its rate (429);
    its name is kept in `scope_state` for the request's log line. A cache hit never leaves
    the event loop; the bank is asked in a thread."""
    token = bearer(authorization)
    key: ApiKey | None
    if token is None:
        role = state.settings.keyless_role
        if role is None:
            raise HTTPException(401, "an API key is needed: Authorization: Bearer KEY")
        key = ApiKey("keyless", role, state.settings.default_rate_per_minute, "")
    else:
        known, key = state.keys.cached(token)
        if not known:
            key = await run_in_threadpool(state.keys.find, token)
        if key is None:
            raise HTTPException(401, "unknown or revoked API key")
    if not key.may(permission):
        raise HTTPException(403, f"the {key.role} role may not {permission}")
    rate = key.rate_per_minute or state.settings.default_rate_per_minute
    if rate is not None:
        wait = state.limiter.allow(key.name, rate)
        if wait is not None:
            raise HTTPException(
                429,
                f"rate limit of {rate} a minute reached",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
    scope_state["key_name"] = key.name
    return key


def requirement(permission: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A FastAPI dependency: the caller's key, which must allow `permission`."""

    async def check(request: Request) -> ApiKey:  # async: no thread hop for a cache hit
        return await authenticate(
            request.app.state.hashwarden,
            request.scope.setdefault("state", {}),
            request.headers.get("authorization", ""),
            permission,
        )

    return check


MatchKey = Annotated[ApiKey, Depends(requirement("match"))]
ReadKey = Annotated[ApiKey, Depends(requirement("read"))]
WriteKey = Annotated[ApiKey, Depends(requirement("write"))]
ExportKey = Annotated[ApiKey, Depends(requirement("export"))]
VoteKey = Annotated[ApiKey, Depends(requirement("vote"))]
AdminKey = Annotated[ApiKey, Depends(requirement("admin"))]
#: Endpoint agents (and admins): post alerts and heartbeats.
AlertKey = Annotated[ApiKey, Depends(requirement("alert"))]
#: Reviewers (and admins): read agents' alerts and decide them.
ReviewKey = Annotated[ApiKey, Depends(requirement("review"))]
