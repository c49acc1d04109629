"""The console's settings, from `HASHWARDEN_CONSOLE_*` variables, checked when made (a
UsageError naming the variable stops `serve` before it answers)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hashwarden.errors import UsageError

__all__ = ["ConsoleSettings"]


def _seconds(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number of seconds, not {text!r}") from None
    if value < 1:
        raise UsageError(f"{name} must be at least 1 second, not {value}")
    return value


@dataclass(frozen=True)
class ConsoleSettings:
    """How long a session lasts, and the curator's block list the Block list page keeps."""

    #: A session ends after this long without a request (seconds).
    idle_s: int = 15 * 60
    #: and this long after it began, whatever it did since.
    max_age_s: int = 12 * 60 * 60
    #: The curator's block-list file (`hashwarden blocklist add`), from HASHWARDEN_BLOCKLIST;
    #: None: the Block list page says the block list is not configured.
    blocklist: Path | None = None

    def __post_init__(self) -> None:
        if self.idle_s < 1 or self.max_age_s < 1:
            raise UsageError("a console session must last at least 1 second")

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        return cls(
            idle_s=_seconds("HASHWARDEN_CONSOLE_IDLE_S", cls.idle_s),
            max_age_s=_seconds("HASHWARDEN_CONSOLE_MAX_AGE_S", cls.max_age_s),
            blocklist=Path(text)
            if (text := os.environ.get("HASHWARDEN_BLOCKLIST", "").strip())
            else None,
        )
