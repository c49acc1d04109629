"""The stop page in a real browser (Debian's Chromium, headless): the language the browser asks
for, and a page that renders with nothing fetched from anywhere else."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from hashwarden.blocking.stoppage import StopPage, serve_stop_page

from ._dns import LOOPBACK, free_port

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
# Flags for a sandboxed root user on a closed network (no background connections at all).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (deps/apt.txt has it)")
@pytest.mark.parametrize(
    ("accept", "lang", "heading"),
    [("sv-SE,sv", "sv", "blockerad"), ("de-AT,de", "de", "gesperrt"), ("fr-FR", "en", "blocked")],
)
def test_browser_shows_the_page_in_its_language(
    accept: str, lang: str, heading: str, tmp_path: Path
) -> None:
    port = free_port()
    server = serve_stop_page(StopPage(operator="Example ISP"), LOOPBACK, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = subprocess.run(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--accept-lang={accept}",
                "--dump-dom",
                f"http://{LOOPBACK}:{port}/listed/path",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    dom = run.stdout
    assert f'<html lang="{lang}">' in dom, run.stderr[-2000:]
    assert heading in dom and "Example ISP" in dom
    assert "<img" not in dom and "<script" not in dom and "<link" not in dom
