"""The agent's settings: from a TOML file (`--config`), overridden by command-line flags.

Every setting has one name, the same in the file and (with dashes) as a flag. Durations are
seconds or a number with a unit (`90s`, `15m`, `6h`, `1d`). Settings are checked when read, so
a wrong one stops the agent at start with a message naming it (exit 2), never later.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hashwarden.errors import DataError, NotFoundError, UsageError
from hashwarden.scan import Limits

__all__ = ["DEFAULT_MEDIA_ROOTS", "AgentConfig", "load_config", "parse_duration", "state_folder"]

#: Where desktops and udisks mount removable media.
DEFAULT_MEDIA_ROOTS = (Path("/media"), Path("/run/media"), Path("/mnt"))
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")


def parse_duration(value: object, name: str) -> float:
    """Seconds from a number or a text such as `90s`, `15m`, `6h`, `1d`."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a duration such as 30, 90s, 15m, 6h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.fullmatch(str(value).strip())
        if found is None:
            raise UsageError(
                f"{name} must be a duration such as 30, 90s, 15m, 6h or 1d, not {value!r}"
            )
        seconds = float(found.group(1)) * _UNITS[found.group(2) or "s"]
    if not 0 < seconds <= 366 * 86400:
        raise UsageError(f"{name} must be more than 0 and at most a year")
    return seconds


@dataclass(frozen=True)
class AgentConfig:
    """What one agent watches, where it reports, and how hard it may work."""

    #: Folders (or files) watched and swept.
    paths: tuple[Path, ...]
    #: The local bank (a file), kept current by `sync_url`.
    bank: Path
    #: The match service's base URL (alerts and heartbeats go there).
    report_to: str
    #: An API key of the `agent` role.
    key: str = field(repr=False)
    #: The state folder: seen files, the outbox, the sweep checkpoint, the status file.
    state: Path
    #: How this agent is named to the service (default: the host name).
    agent_id: str = field(default_factory=socket.gethostname)
    host: str = field(default_factory=socket.getfqdn)
    #: A full sweep of the paths this often (after the first at start).
    sweep_every: float = 86400.0
    #: Percent of one core the agent may use over time (a burst of a few seconds is allowed).
    max_cpu: float = 20.0
    #: A file is hashed once unchanged this long (sooner once closed and not open for writing).
    settle: float = 1.0
    heartbeat_every: float = 60.0
    status_every: float = 5.0
    #: Longest pause between attempts to deliver an alert while the service does not answer.
    retry_max: float = 300.0
    #: A sync folder's URL (`hashwarden sync publish`) and the public key that signs it.
    sync_url: str | None = None
    sync_key: Path | None = None
    sync_every: float = 3600.0
    #: Folders where removable media are mounted; a new mount point under one is swept.
    media_roots: tuple[Path, ...] = DEFAULT_MEDIA_ROOTS
    #: False: any new folder in a media root counts as a medium (for tests and for systems
    #: that mount elsewhere and link in).
    media_need_mount: bool = True
    media_every: float = 5.0
    #: PDQ distance for near matches.
    threshold: int = 31
    #: Niceness added at start (0-19).
    nice: int = 10
    #: The bounds `scan` keeps for archives, per file.
    limits: Limits = field(default_factory=Limits)
    #: Folders never watched or swept (the state folder and the bank are never).
    exclude: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.paths:
            raise UsageError("give at least one PATH to watch")
        parts = urlsplit(self.report_to)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--report-to must be an http(s) URL, not {self.report_to!r}")
        if not self.key.strip():
            raise UsageError("an API key of the agent role is needed (--key, key_file)")
        if not 0 < self.max_cpu <= 100 * (os.cpu_count() or 1):
            raise UsageError("max_cpu must be a percentage of one core above 0 (100: one core)")
        if not 0 <= self.threshold <= 256:
            raise UsageError("threshold must be between 0 and 256")
        if not 0 <= self.nice <= 19:
            raise UsageError("nice must be between 0 and 19")
        if (self.sync_url is None) != (self.sync_key is None):
            raise UsageError("sync_url and sync_key go together (the key pins the signer)")
        if self.sync_url is not None and urlsplit(self.sync_url).scheme not in ("http", "https"):
            raise UsageError(f"sync_url must be an http(s) URL, not {self.sync_url!r}")
        if not self.agent_id.strip() or len(self.agent_id) > 200:
            raise UsageError("agent_id must be 1 to 200 characters")

    @property
    def never(self) -> tuple[Path, ...]:
        """What is never examined: the agent's own files and the excluded folders."""
        return (self.state, self.bank, *self.exclude)


_DURATIONS = {
    "sweep_every",
    "settle",
    "heartbeat_every",
    "status_every",
    "retry_max",
    "sync_every",
    "media_every",
}
_PATH_LISTS = {"paths", "media_roots", "exclude"}
_PATHS = {"bank", "state", "sync_key"}
_TEXTS = {"report_to", "key", "agent_id", "host", "sync_url"}


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no config file at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not TOML: {exc}") from exc
    return data


def _absolute(value: object, name: str, base: Path) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise UsageError(f"{name} must be a path")
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).absolute()


def _limits(value: object) -> Limits:
    if not isinstance(value, dict):
        raise UsageError("[limits] must be a table of `scan`'s limits")
    known = {f.name for f in fields(Limits)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise UsageError(f"unknown limit {unknown[0]!r} (one of {', '.join(sorted(known))})")
    if not all(type(v) is int for v in value.values()):
        raise UsageError("limits are whole numbers")
    try:
        return Limits(**value)
    except ValueError as exc:
        raise UsageError(f"limits: {exc}") from exc


def load_config(file: Path | None, flags: dict[str, Any]) -> AgentConfig:
    """The settings of `file` (TOML; relative paths are from its folder) with the `flags`
    given on the command line on top (None: not given). A key may come from `key`,
    `key_file`, or the HASHWARDEN_AGENT_KEY variable, in that order."""
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if file is not None:
        raw = _from_file(file)
        base = file.parent.absolute()
    given = {k: v for k, v in flags.items() if v is not None and v not in ((), [])}
    known = {f.name for f in fields(AgentConfig)} | {"key_file"}
    for name in raw:
        if name not in known:
            raise UsageError(f"{file}: unknown setting {name!r}")
    settings: dict[str, Any] = {}
    for name, value in raw.items():
        settings[name] = _setting(name, value, base)
    for name, value in given.items():
        settings[name] = _setting(name, value, Path.cwd())
    key_file = settings.pop("key_file", None)
    if "key" not in settings:
        if key_file is not None:
            try:
                settings["key"] = Path(key_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise NotFoundError(f"cannot read the key file {key_file}: {exc}") from exc
        else:
            settings["key"] = os.environ.get("HASHWARDEN_AGENT_KEY", "")
    if "bank" not in settings or "paths" not in settings:
        raise UsageError(
            "give the bank first, then what to watch: hashwarden watch BANK PATH..."
            " (or bank and paths in --config FILE)"
        )
    for needed, flag in (("report_to", "--report-to"), ("state", "--state")):
        if needed not in settings:
            raise UsageError(f"{flag} is needed (on the command line or in the config file)")
    return AgentConfig(**settings)


def state_folder(file: Path) -> Path:
    """The state folder a config file names (for `watch --status --config FILE`), without
    checking the rest of it."""
    raw = _from_file(file)
    if "state" not in raw:
        raise UsageError(f"{file} names no state folder; give --state")
    return _absolute(raw["state"], "state", file.parent.absolute())


def _setting(name: str, value: object, base: Path) -> Any:
    """One setting checked and converted (paths made absolute from `base`)."""
    if name in _DURATIONS:
        return parse_duration(value, name)
    if name in _PATH_LISTS:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_absolute(item, name, base) for item in items)
    if name in _PATHS or name == "key_file":
        return _absolute(value, name, base)
    if name in _TEXTS:
        if not isinstance(value, str):
            raise UsageError(f"{name} must be text")
        return value
    if name == "limits":
        return value if isinstance(value, Limits) else _limits(value)
    if name in ("max_cpu",):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{name} must be a number")
        return float(value)
    if name in ("threshold", "nice"):
        if type(value) is not int:
            raise UsageError(f"{name} must be a whole number")
        return value
    if name == "media_need_mount":
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false")
        return value
    raise UsageError(f"unknown setting {name!r}")
