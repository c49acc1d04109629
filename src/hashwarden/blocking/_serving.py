"""What the ISP-side servers (DNS front, stop page) share: a bounded request count for tests,
and silence about clients."""

from __future__ import annotations

import threading


class BoundedQuietServer:
    """Mixin for a `socketserver` server: stops after `max_requests` when given, and never
    prints a client's address (the default error handler does)."""

    def bound(self, max_requests: int | None) -> None:
        self.max_requests = max_requests
        self._served = 0
        self._count_lock = threading.Lock()

    def count_request(self) -> None:
        with self._count_lock:
            self._served += 1
            done = self.max_requests is not None and self._served >= self.max_requests
        if done:
            threading.Thread(target=self.shutdown, daemon=True).start()  # type: ignore[attr-defined]

    def handle_error(self, request: object, client_address: object) -> None:
        """Say nothing about the client."""
