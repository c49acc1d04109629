"""The service's settings: limits and access, read from `HASHWARDEN_*` variables and checked
when made, so a wrong one stops `serve` instead of failing requests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hashwarden.errors import UsageError
from hashwarden.service.actions.settings import DeliverySettings
from hashwarden.service.keys import ROLES
from hashwarden.service.privacy import MatchPrivacy
from hashwarden.signals.hashing import MAX_IMAGE_PIXELS

__all__ = ["REQUEST_LOGS", "ServiceSettings"]

#: `--request-log`: a line for every request, or for refused and failed ones only.
REQUEST_LOGS = ("all", "errors")


def _env(name: str, default: float | None, kind: type[int] | type[float]) -> Any:
    """A number from the environment, or a UsageError naming the variable."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {text!r}") from None


@dataclass(frozen=True)
class ServiceSettings:
    """Service limits and access; `from_env` reads `HASHWARDEN_*` variables. Checked when made
    (UsageError naming the setting), so a wrong one stops `serve` instead of failing requests."""

    max_upload_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 30.0
    threshold: int = 31
    #: A role granted to requests that carry no key (off by default).
    keyless_role: str | None = None
    #: Rate for keys created without one (requests a minute; None: unlimited).
    default_rate_per_minute: int | None = None
    #: Uploaded images of more pixels than this are refused (413) from their header, before
    #: anything is decoded; a decode takes about 4 bytes a pixel.
    max_upload_pixels: int = 50_000_000
    #: Uploads split, hashed and decoded at once by one worker, and how many more may wait.
    max_decodes: int = 2
    decode_queue: int = 16
    #: Parts a multipart upload may have (one file, a few fields).
    max_multipart_parts: int = 16
    #: Size of every request body other than an upload (JSON).
    max_json_bytes: int = 1024 * 1024
    #: How long a match answer waits for its actions to be written before it goes anyway
    #: (they stay queued), and how many queued actions one worker holds at most.
    action_wait_s: float = 0.5
    action_queue: int = 10_000
    extra: dict[str, str] = field(default_factory=dict)
    #: A directory private to the workers of one node, which `hashwarden serve --workers N`
    #: makes (`HASHWARDEN_NODE_DIR`): they count rate limits there together. None: this
    #: process counts alone.
    node_dir: str | None = None
    webhooks: DeliverySettings = field(default_factory=DeliverySettings)
    #: What keys that may not read the bank learn from near matches (see `privacy`).
    privacy: MatchPrivacy = field(default_factory=MatchPrivacy)
    #: Seconds the hashes of look-ups are kept to match entries added later (None: off).
    keep_recent_s: float | None = None
    #: Seconds between a worker's writes of its count of matches answered (the dashboard's
    #: "matches today"; `service/tally.py`).
    tally_flush_s: float = 10.0
    #: Which requests get a log line: "all", or "errors" (4xx and 5xx only: at thousands of
    #: look-ups a second the line costs a sixth of a worker's answers; metrics count all).
    request_log: str = "all"

    def __post_init__(self) -> None:
        if self.keyless_role is not None and self.keyless_role not in ROLES:
            raise UsageError(
                f"HASHWARDEN_KEYLESS_ROLE (--keyless-role) must be one of {', '.join(ROLES)},"
                f" not {self.keyless_role!r}"
            )
        if self.request_log not in REQUEST_LOGS:
            raise UsageError(
                f"HASHWARDEN_REQUEST_LOG (--request-log) must be one of {', '.join(REQUEST_LOGS)},"
                f" not {self.request_log!r}"
            )
        if not 0 <= self.threshold <= 256:
            raise UsageError("HASHWARDEN_THRESHOLD must be between 0 and 256")
        if self.keep_recent_s is not None and not 0 < self.keep_recent_s <= 366 * 86400:
            raise UsageError("HASHWARDEN_KEEP_RECENT_S (--keep-recent) must be 1 s to 366 days")
        if not 1 <= self.max_upload_pixels <= MAX_IMAGE_PIXELS:
            raise UsageError(
                f"HASHWARDEN_MAX_UPLOAD_PIXELS must be between 1 and {MAX_IMAGE_PIXELS}"
            )
        at_least = {
            "HASHWARDEN_MAX_UPLOAD_BYTES": (self.max_upload_bytes, 1),
            "HASHWARDEN_MAX_DECODES": (self.max_decodes, 1),
            "HASHWARDEN_DECODE_QUEUE": (self.decode_queue, 0),
            "HASHWARDEN_MAX_MULTIPART_PARTS": (self.max_multipart_parts, 1),
            "HASHWARDEN_MAX_JSON_BYTES": (self.max_json_bytes, 1024),
            "HASHWARDEN_ACTION_QUEUE": (self.action_queue, 1),
            "HASHWARDEN_REQUEST_TIMEOUT_S": (self.request_timeout_s, 0.001),
            "HASHWARDEN_ACTION_WAIT_S": (self.action_wait_s, 0),
            "HASHWARDEN_TALLY_FLUSH_S": (self.tally_flush_s, 0.1),
        }
        if self.default_rate_per_minute is not None:
            at_least["HASHWARDEN_DEFAULT_RATE_PER_MINUTE"] = (self.default_rate_per_minute, 1)
        for name, (value, least) in at_least.items():
            if value < least:
                raise UsageError(f"{name} must be at least {least}, not {value}")

    @classmethod
    def from_env(cls) -> ServiceSettings:
        return cls(
            max_upload_bytes=_env("HASHWARDEN_MAX_UPLOAD_BYTES", cls.max_upload_bytes, int),
            request_timeout_s=_env("HASHWARDEN_REQUEST_TIMEOUT_S", cls.request_timeout_s, float),
            threshold=_env("HASHWARDEN_THRESHOLD", cls.threshold, int),
            keyless_role=os.environ.get("HASHWARDEN_KEYLESS_ROLE") or None,
            default_rate_per_minute=_env("HASHWARDEN_DEFAULT_RATE_PER_MINUTE", None, int),
            max_upload_pixels=_env("HASHWARDEN_MAX_UPLOAD_PIXELS", cls.max_upload_pixels, int),
            max_decodes=_env("HASHWARDEN_MAX_DECODES", cls.max_decodes, int),
            decode_queue=_env("HASHWARDEN_DECODE_QUEUE", cls.decode_queue, int),
            max_multipart_parts=_env(
                "HASHWARDEN_MAX_MULTIPART_PARTS", cls.max_multipart_parts, int
            ),
            max_json_bytes=_env("HASHWARDEN_MAX_JSON_BYTES", cls.max_json_bytes, int),
            action_wait_s=_env("HASHWARDEN_ACTION_WAIT_S", cls.action_wait_s, float),
            action_queue=_env("HASHWARDEN_ACTION_QUEUE", cls.action_queue, int),
            node_dir=os.environ.get("HASHWARDEN_NODE_DIR") or None,
            webhooks=DeliverySettings.from_env(),
            privacy=MatchPrivacy.from_env(),
            keep_recent_s=_env("HASHWARDEN_KEEP_RECENT_S", None, float),
            tally_flush_s=_env("HASHWARDEN_TALLY_FLUSH_S", cls.tally_flush_s, float),
            request_log=os.environ.get("HASHWARDEN_REQUEST_LOG") or cls.request_log,
        )
