"""End to end: a real uvicorn server on loopback, started and stopped by the test."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import uvicorn

from hashwarden.bank import SqliteBank
from hashwarden.bank.base import NewEntry
from hashwarden.service import ServiceSettings, create_app
from hashwarden.signals.base import Signal
from hashwarden.signals.hashing import hash_bytes
from hashwarden.synthetic import png_bytes, synthetic_photo


def _png(seed: int) -> bytes:
    return png_bytes(synthetic_photo(seed, 320, 240))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_upload_over_loopback(bank: SqliteBank) -> None:
    image = _png(7)
    pdq = hash_bytes(image).pdq
    assert pdq is not None
    bank.add_entry(NewEntry([Signal("pdq", pdq)]))
    port = _free_port()
    config = uvicorn.Config(
        create_app(ServiceSettings(), bank), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/match/upload", data=image, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert [m["distance"] for m in body["matches"]] == [0]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
