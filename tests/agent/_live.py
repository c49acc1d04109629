"""A real `hashwarden serve` and real `hashwarden watch` processes on loopback, for the
agent's end-to-end tests and its benchmark. Every process is stopped by whoever started it;
every wait is a bounded poll with a generous deadline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.service.keys import create_key
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import hash_bytes
from hashwarden.synthetic import png_bytes, synthetic_photo

T = TypeVar("T")

#: Seconds any wait for the agent or the service may take before a test fails.
DEADLINE = 90.0


def image(seed: int) -> bytes:
    """A benign generated photo (PNG)."""
    return png_bytes(synthetic_photo(seed, 320, 240))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], deadline: float = DEADLINE) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `deadline`."""
    end = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def bank_with(location: Path, images: list[bytes], category: str = "csam-a") -> Bank:
    """A new bank holding an entry (SHA-256 and PDQ) for each image."""
    bank = create_bank(location)
    add(bank, images, category)
    return bank


def add(bank: Bank, images: list[bytes], category: str = "csam-a") -> None:
    registry = default_registry()
    entries = []
    for number, data in enumerate(images):
        hashes = hash_bytes(data)
        signals = [registry.signal("sha256", hashes.sha256)]
        if hashes.pdq is not None:
            signals.append(registry.signal("pdq", hashes.pdq))
        entries.append(NewEntry(signals, category=category, series=f"series-{number}"))
    bank.entries.add_many(entries)


class Service:
    """`hashwarden serve` over `bank_path` on a free loopback port, with an agent key and a
    reviewer key; `start()` and `stop()` may be called again (the same port)."""

    def __init__(self, bank_path: Path, log: Path) -> None:
        self.bank_path = bank_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open_bank(bank_path) as bank:
            self.agent_key = create_key(bank, "agents", "agent")
            self.reviewer_key = create_key(bank, "soc", "reviewer")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "hashwarden", "serve", str(self.bank_path)]
        command += ["--listen", f"127.0.0.1:{self.port}"]
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=out)

        def up() -> bool:
            try:
                return httpx.get(f"{self.url}/status", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the service to answer", up)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None

    def alerts(self, **query: Any) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.url}/v1/alerts",
            params={"limit": 1000, **query},
            headers={"Authorization": f"Bearer {self.reviewer_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        return list(answer.json())

    def agents(self) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.url}/v1/agents",
            headers={"Authorization": f"Bearer {self.reviewer_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        return list(answer.json())


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    """A TOML config file of flat settings (text, numbers, booleans, lists of text)."""
    lines = []
    for name, value in settings.items():
        lines.append(f"{name} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


class AgentProcess:
    """`hashwarden watch --config FILE` in a process of its own."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "hashwarden", "watch", "--config", str(self.config)]
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=out, env=self.env)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill_9(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)
        self._process = None

    def stop(self) -> int:
        """SIGTERM, and the exit code."""
        if self._process is None:
            return 0
        self._process.terminate()
        code = self._process.wait(timeout=60)
        self._process = None
        return code

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def status(state: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((state / "status.json").read_text()))
    except (OSError, ValueError):
        return {}
