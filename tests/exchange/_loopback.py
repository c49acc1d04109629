"""What the programmes' stand-in servers share: an HTTP server on 127.0.0.1 (a free port) served
from a thread until `close`, a handler that answers a status and a body and logs nothing, and
scripted failures (from the n-th request on, a status or a body that is not JSON)."""

from __future__ import annotations

import http.server
import threading
from typing import Any


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Answers with `answer`; logs nothing (the test's output stays the test's)."""

    content_type = "application/json"

    def answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from a thread; `base` is its URL (no trailing slash)."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        #: From request number `fail_after` on (counting from 0), `failure` answers instead:
        #: a status, or a body (served with 200) that is not JSON.
        self.failure: int | bytes | None = None
        self.fail_after = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def scripted_failure(self, requests_so_far: int) -> int | bytes | None:
        """The failure to answer now, having seen `requests_so_far` requests (this one too)."""
        return self.failure if requests_so_far > self.fail_after else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
