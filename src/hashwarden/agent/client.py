"""The agent's side of the match service: post an alert, post a heartbeat."""

from __future__ import annotations

from typing import Any

import httpx

from hashwarden.agent.outbox import Sent

__all__ = ["Central"]

#: Answers that will not change however often the alert is sent again: it is malformed.
_REFUSED_FOR_GOOD = {400, 409, 413, 422}


class Central:
    """Posts to the service at `base_url` with an `agent` key. Redirects are not followed
    (a key is never sent where it was not configured to go)."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 15.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}", "User-Agent": "hashwarden-agent"},
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=True,
        )

    def close(self) -> None:
        self._client.close()

    def send_alert(self, key: str, body: dict[str, Any]) -> Sent:
        """One attempt to hand an alert over (its idempotency key is in the body)."""
        try:
            answer = self._client.post("/v1/alerts", json={**body, "idempotency_key": key})
        except httpx.HTTPError as exc:
            return Sent("retry", f"no answer: {type(exc).__name__}")
        if answer.status_code in (200, 201):
            return Sent("delivered")
        detail = f"HTTP {answer.status_code}: {answer.text[:300]}"
        if answer.status_code in _REFUSED_FOR_GOOD:
            return Sent("rejected", detail)
        return Sent("retry", detail)  # 401/403 (a key to fix), 404, 429, 5xx: kept, retried

    def heartbeat(self, body: dict[str, Any]) -> str | None:
        """None when the service took it, else why not."""
        try:
            answer = self._client.post("/v1/agents/heartbeat", json=body)
        except httpx.HTTPError as exc:
            return f"no answer: {type(exc).__name__}"
        if answer.status_code == 204:
            return None
        return f"HTTP {answer.status_code}: {answer.text[:300]}"
