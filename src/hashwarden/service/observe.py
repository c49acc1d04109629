"""Metrics and one structured log line a request: method, route template, status, time and key
name; never the client's address, the query or any content."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from hashwarden.service.metrics import Metrics

__all__ = ["Observe"]

log = logging.getLogger("hashwarden.service")


class Observe:
    """The outermost layer of the app (plain ASGI: Starlette's `BaseHTTPMiddleware` costs more
    than a whole hash look-up). The route template is the matched route's path (`route` in
    the scope, set by the router or the fast lane); the key name is what `auth` kept."""

    def __init__(self, app: Any, metrics: Metrics, *, log_every_request: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        #: False: a line only for requests refused or failed (4xx, 5xx); metrics count all.
        self.log_every_request = log_every_request

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.request(scope["method"], template, status, elapsed)
            if (self.log_every_request or status >= 400) and log.isEnabledFor(logging.INFO):
                key = (scope.get("state") or {}).get("key_name")
                line = {
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "key": key,
                }
                log.info(json.dumps(line))
