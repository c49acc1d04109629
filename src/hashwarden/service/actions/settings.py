"""How webhooks are sent: attempts, backoff, time limits and allowed targets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hashwarden.service.actions.targets import TargetPolicy

__all__ = ["DeliverySettings"]


@dataclass(frozen=True)
class DeliverySettings:
    """How webhooks are sent: attempt `n` failing waits `backoff_s * 2**(n-1)` (at most
    `max_backoff_s`) before the next; after `max_attempts` the delivery is marked failed."""

    max_attempts: int = 8
    backoff_s: float = 2.0
    max_backoff_s: float = 3600.0
    timeout_s: float = 10.0
    #: How often the worker looks at the outbox when nothing wakes it (other replicas' work).
    poll_s: float = 5.0
    queue_size: int = 1000
    #: How long the engine trusts its copy of the rules: a rule added or removed through
    #: another worker or replica applies within this time.
    rules_ttl_s: float = 1.0
    #: Use HTTP(S)_PROXY from the environment for webhooks.
    trust_env: bool = True
    #: Internal receivers allowed besides public addresses (`HASHWARDEN_WEBHOOK_ALLOW`).
    targets: TargetPolicy = field(default_factory=TargetPolicy)

    @classmethod
    def from_env(cls) -> DeliverySettings:
        """Reads `HASHWARDEN_WEBHOOK_*` variables."""
        env = os.environ.get
        return cls(
            max_attempts=int(env("HASHWARDEN_WEBHOOK_MAX_ATTEMPTS", cls.max_attempts)),
            backoff_s=float(env("HASHWARDEN_WEBHOOK_BACKOFF_S", cls.backoff_s)),
            max_backoff_s=float(env("HASHWARDEN_WEBHOOK_MAX_BACKOFF_S", cls.max_backoff_s)),
            timeout_s=float(env("HASHWARDEN_WEBHOOK_TIMEOUT_S", cls.timeout_s)),
            targets=TargetPolicy.parse(env("HASHWARDEN_WEBHOOK_ALLOW", "")),
        )

    def backoff(self, attempts: int) -> float:
        return float(min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s))
