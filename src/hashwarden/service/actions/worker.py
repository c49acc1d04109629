"""Sending webhooks: each due delivery signed and posted once to the address checked for it,
its outcome recorded in the outbox; a background thread that keeps the outbox empty."""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.request
from contextlib import suppress
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from hashwarden.errors import UsageError
from hashwarden.service.actions._tables import Tables
from hashwarden.service.actions.outbox import Claimed, Outbox
from hashwarden.service.actions.settings import DeliverySettings
from hashwarden.service.actions.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from hashwarden.service.actions.targets import (
    REFUSED,
    Resolver,
    TargetRefused,
    hide_urls_in_httpx_log,
    pinned_transport,
    redact_url,
)

__all__ = ["UNREACHABLE", "Deliverer", "Sender", "WebhookWorker"]

log = logging.getLogger("hashwarden.service.actions")

#: A delivery's error when the send failed below HTTP: the same for a refused connection, a
#: timeout, a reset or a TLS failure, so the outbox cannot be used to scan ports.
UNREACHABLE = "no answer: could not connect or send"


def _scrub(text: str, url: str) -> str:
    """An error text as it may be logged: the URL, or any secret part of it, masked."""
    text = text.replace(url, redact_url(url))
    parts = urlsplit(url)
    hidden = [parts.netloc.rpartition("@")[0], parts.password, parts.query, parts.fragment]
    hidden += [s for s in parts.path.split("/") if s and s not in redact_url(url).split("/")]
    for secret in sorted(filter(None, hidden), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class Sender:
    """Posts claimed deliveries: directly to the address checked after one look-up, or through
    an HTTP(S)_PROXY from the environment; never follows a redirect."""

    def __init__(self, tables: Tables, outbox: Outbox, resolver: Resolver | None = None) -> None:
        self.tables = tables
        self.outbox = outbox
        hide_urls_in_httpx_log()
        settings = tables.settings
        #: Direct sends: each connection goes to the address checked after its one look-up.
        self._client = httpx.Client(
            timeout=settings.timeout_s,
            transport=pinned_transport(settings.targets, resolver),
            trust_env=False,
            follow_redirects=False,
        )
        #: Sends through an HTTP(S)_PROXY from the environment, one client a proxy.
        self._proxied: dict[str, httpx.Client] = {}

    def close(self) -> None:
        self._client.close()
        for client in self._proxied.values():
            client.close()

    def _client_for(self, url: str) -> httpx.Client:
        """The direct client, or the proxy's when the environment names one for this URL (the
        proxy then resolves the name: only address literals and metadata names are checked
        here, the proxy must refuse internal addresses itself)."""
        settings = self.tables.settings
        if not settings.trust_env:
            return self._client
        parts = urlsplit(url)
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        host = parts.hostname or ""
        if not proxy or urllib.request.proxy_bypass(host):
            return self._client
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.Client(
                timeout=settings.timeout_s,
                proxy=proxy,
                trust_env=False,
                follow_redirects=False,
            )
        return self._proxied[proxy]

    def attempt(self, claimed: Claimed) -> None:
        """Send once and record the outcome: delivered, to retry after the backoff, or failed
        for good (refused, or out of attempts)."""
        settings = self.tables.settings
        raw = claimed.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hashwarden-webhook",
            SIGNATURE_HEADER: sign(claimed.secret, timestamp, raw),
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: str(claimed.id),
            EVENT_HEADER: claimed.event,
        }
        error: str | None
        #: What the service log says of a failure (the listing says less: see UNREACHABLE).
        detail: str | None = None
        refused = False
        url = claimed.url
        try:
            settings.targets.check_url(url)
            client = self._client_for(url)
            # Streamed and never read: a receiver's answer is its status, whatever its size.
            with client.stream("POST", url, content=raw, headers=headers) as response:
                ok = 200 <= response.status_code < 300
                error = None if ok else f"HTTP {response.status_code}"
        except TargetRefused as exc:
            error, detail, refused = REFUSED, str(exc), True
        except Exception as exc:  # any failure to send is this delivery's error, kept below
            error, detail = UNREACHABLE, f"{type(exc).__name__}: {exc}"
        final = refused or claimed.attempts >= settings.max_attempts
        if error is None:
            self.outbox.delivered(claimed.id)
            return
        if final:
            self.outbox.failed(claimed.id, error)
        else:
            self.outbox.retry_later(claimed.id, error, claimed.attempts)
        log.warning(
            "webhook delivery %d to %s attempt %d failed%s: %s",
            claimed.id,
            redact_url(url),
            claimed.attempts,
            " for good" if final else "",
            _scrub(detail or error, url)[:500],
        )


class Deliverer(Protocol):
    """What the worker needs of an engine (an `ActionEngine`)."""

    @property
    def outbox(self) -> Outbox: ...
    @property
    def settings(self) -> DeliverySettings: ...
    def deliver_due(self, *, stop: threading.Event | None = None) -> int: ...
    def next_due(self) -> float | None: ...


class WebhookWorker:
    """The background thread that empties the outbox: woken by new deliveries, and otherwise
    at the earliest retry or every `poll_s` (deliveries queued by other replicas)."""

    def __init__(self, engine: Deliverer) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise UsageError("the webhook worker is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hashwarden-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the attempt in flight (its outcome is recorded)."""
        self._stop.set()
        self.engine.outbox.wake(0)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        wakeups = self.engine.outbox.wakeups
        while not self._stop.is_set():
            wait = self.engine.settings.poll_s
            try:
                self.engine.deliver_due(stop=self._stop)
                due = self.engine.next_due()
                if due is not None:
                    wait = min(wait, due)
            except Exception:  # a bank hiccup must not end deliveries for good
                log.exception("webhook delivery pass failed; retrying")
            with suppress(queue.Empty):
                wakeups.get(timeout=wait)
                while True:
                    wakeups.get_nowait()
