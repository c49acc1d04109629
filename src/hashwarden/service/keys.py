"""API keys and their roles (their rate limits are counted by `ratelimit`).

A key is `hw_` plus 43 random URL-safe characters, shown once when created. The bank keeps only
its SHA-256 (a key has 256 bits of entropy, so a slow password hash would add nothing but
latency to every request), the key's name, role and optional rate, so every replica sharing the
bank knows every key, and a revocation reaches them all within `KeyRing.ttl_s` seconds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from hashwarden._time import utc_now
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import ConflictError, NotFoundError, UsageError

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ApiKey",
    "KeyRing",
    "create_key",
    "key_named",
    "list_keys",
    "revoke_key",
]

#: What each role may do. `match`: hash and match, nothing that reveals the bank's contents;
#: `statistics`: the bank's counts and charts, for people at work here (not outside peers).
PERMISSIONS: dict[str, frozenset[str]] = {
    "matcher": frozenset({"match"}),
    "reviewer": frozenset({"match", "review", "vote", "statistics"}),
    "curator": frozenset({"match", "read", "write", "vote", "export", "statistics"}),
    "peer": frozenset({"read", "export"}),
    "admin": frozenset(
        {"match", "read", "write", "vote", "export", "review", "admin", "alert", "statistics"}
    ),
    #: Endpoint agents (`hashwarden watch`): post alerts and heartbeats, nothing else.
    "agent": frozenset({"alert"}),
}
ROLES = tuple(PERMISSIONS)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_PREFIX = "hw_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    role: str
    rate_per_minute: int | None
    created: str
    revoked: str | None = None

    def may(self, permission: str) -> bool:
        return self.revoked is None and permission in PERMISSIONS[self.role]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    bank: BankStore,
    name: str,
    role: str,
    *,
    rate_per_minute: int | None = None,
    actor: str = "cli",
) -> str:
    """Store a new key and return it (the only time it is seen in clear); audited under
    `actor`."""
    if role not in PERMISSIONS:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not _NAME.fullmatch(name):
        raise UsageError(f"key name {name!r}: letters, digits and _.@- only, up to 64")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise UsageError("a rate must be at least 1 request a minute")
    token = _PREFIX + secrets.token_urlsafe(32)
    with bank.db.transaction() as conn, bank.audit.tracked("api_keys", "name = ?", (name,)):
        if conn.execute("SELECT 1 FROM api_keys WHERE name = ?", (name,)).fetchone():
            raise ConflictError(f"a key named {name!r} exists already")
        conn.execute(
            "INSERT INTO api_keys(name, role, key_hash, rate_per_minute, created)"
            " VALUES (?,?,?,?,?)",
            (name, role, _digest(token), rate_per_minute, utc_now()),
        )
        bank.audit.record(actor, "apikey.create", {"name": name, "role": role})
    return token


def revoke_key(bank: BankStore, name: str, *, actor: str = "cli") -> None:
    with bank.db.transaction() as conn, bank.audit.tracked("api_keys", "name = ?", (name,)):
        row = conn.execute(
            "SELECT 1 FROM api_keys WHERE name = ? AND revoked IS NULL", (name,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no live key named {name!r}")
        conn.execute("UPDATE api_keys SET revoked = ? WHERE name = ?", (utc_now(), name))
        bank.audit.record(actor, "apikey.revoke", {"name": name})


def list_keys(bank: BankStore) -> list[ApiKey]:
    rows = bank.db.query(
        "SELECT name, role, rate_per_minute, created, revoked FROM api_keys ORDER BY name"
    )
    return [ApiKey(str(n), str(r), rate, str(c), rev) for n, r, rate, c, rev in rows]


def key_named(bank: BankStore, name: str) -> ApiKey | None:
    """The key of that name (revoked or not), or None."""
    rows = bank.db.query(
        "SELECT name, role, rate_per_minute, created, revoked FROM api_keys WHERE name = ?",
        (name,),
    )
    if not rows:
        return None
    n, r, rate, c, revoked = rows[0]
    return ApiKey(str(n), str(r), rate, str(c), revoked)


class KeyRing:
    """Answers "whose key is this?" from the bank, remembering answers for `ttl_s` seconds
    so a busy service does not read the bank on every request."""

    def __init__(self, bank: BankStore, lock: threading.Lock, *, ttl_s: float = 5.0) -> None:
        self.bank = bank
        self.lock = lock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def cached(self, token: str) -> tuple[bool, ApiKey | None]:
        """(known, key) without touching the bank: `known` is False when only `find` can
        answer (so a caller on an event loop can hand that to a thread)."""
        if not token.startswith(_PREFIX) or len(token) > 100:
            return True, None
        cached = self._cache.get(_digest(token))
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return True, cached[1]
        return False, None

    def find(self, token: str) -> ApiKey | None:
        known, key = self.cached(token)
        if known:
            return key
        digest = _digest(token)
        now = time.monotonic()
        with self.lock:
            rows = self.bank.db.query(
                "SELECT name, role, rate_per_minute, created, revoked FROM api_keys"
                " WHERE key_hash = ?",
                (digest,),
            )
        key = None
        if rows and rows[0][4] is None:
            n, r, rate, c, _ = rows[0]
            key = ApiKey(str(n), str(r), rate, str(c))
        if len(self._cache) > 10_000:  # unknown tokens must not grow memory without bound
            self._cache.clear()
        self._cache[digest] = (now, key)
        return key
