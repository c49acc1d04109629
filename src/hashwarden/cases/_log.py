"""The case store's own log: every case kept, deleted and retro-hunted, as a SHA-256 hash chain
of JSON lines (`log.jsonl`), so a removed or altered line is found by `verify`.

The store keeps its own log because it is not part of any one bank: several banks may hunt in
it, and a PostgreSQL bank may be read-only for the investigator who scans. A deletion is also
recorded in the bank's audit log by `hashwarden cases delete` (docs/retro.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hashwarden._time import utc_now
from hashwarden.errors import DataError

__all__ = ["GENESIS", "LogEvent", "StoreLog", "locked"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class LogEvent:
    seq: int
    at: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev: str
    hash: str


def _digest(prev: str, seq: int, at: str, actor: str, action: str, detail: str) -> str:
    text = json.dumps([seq, at, actor, action, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


@contextmanager
def locked(path: Path) -> Iterator[TextIO]:
    """The file opened for appending under an exclusive lock (held until the block ends), so
    scans and retro-hunts in several processes write one after the other."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a+", encoding="utf-8") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield stream
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


class StoreLog:
    """The hash-chained log of one case store."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, actor: str, action: str, detail: dict[str, Any]) -> LogEvent:
        """Append an event after the last one; returns it."""
        with locked(self.path) as stream:
            stream.seek(0)
            last = None
            for line in stream:
                if line.strip():
                    last = line
            seq, prev = 0, GENESIS
            if last is not None:
                try:
                    head = json.loads(last)
                    seq, prev = int(head["seq"]), str(head["hash"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"{self.path}: the last line is not a log event") from exc
            at = utc_now()
            text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            event = LogEvent(
                seq + 1,
                at,
                actor,
                action,
                detail,
                prev,
                _digest(prev, seq + 1, at, actor, action, text),
            )
            row: dict[str, Any] = {**event.__dict__, "detail": text}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
            return event

    def events(self) -> Iterator[LogEvent]:
        """The events, oldest first."""
        for event, _ in self._read():
            yield event

    def _read(self) -> Iterator[tuple[LogEvent, str]]:
        """Each event with its detail as recorded (the text its hash covers)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    text = str(raw["detail"])
                    event = LogEvent(
                        int(raw["seq"]),
                        str(raw["at"]),
                        str(raw["actor"]),
                        str(raw["action"]),
                        json.loads(text),
                        str(raw["prev"]),
                        str(raw["hash"]),
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"{self.path}, line {number}: not a log event") from exc
                yield event, text

    def verify(self) -> list[str]:
        """Problems found in the chain: a missing, reordered or altered event (none: [])."""
        problems = []
        expected_prev, expected_seq = GENESIS, 1
        for event, text in self._read():
            if event.seq != expected_seq:
                problems.append(f"log event {expected_seq} is missing (next is {event.seq})")
            if event.prev != expected_prev:
                problems.append(f"log event {event.seq}: its link to the one before is broken")
            digest = _digest(event.prev, event.seq, event.at, event.actor, event.action, text)
            if digest != event.hash:
                problems.append(f"log event {event.seq} ({event.action}) was altered")
            expected_prev, expected_seq = event.hash, event.seq + 1
        return problems
