"""What a key that may not read the bank learns from a near match, and how probing is stopped.

A `matcher` key never sees a near match's banked hash, but it must not rebuild it from the
answers either. With exact distances that takes 257 requests (flip each bit of a near copy once:
the distance goes down exactly where the bit differs). Coarse distances alone do not help: just
past the threshold, the match/no-match answer itself is a one-bit oracle (flip each bit of a
copy at threshold + 1: it matches again exactly where the bit differs). So, for such keys:

1. **Coarse distances.** A near match's distance is shown as the threshold it was within (the
   named bank's, or the service's); an exact match (distance 0) shows 0, as it gives away
   nothing the caller did not send.
2. **A noisy edge, above the threshold only.** Each (entry, query) pair gets a reach `r` in
   `0..jitter`, a keyed hash (HMAC-SHA256 with a secret kept in the bank, so every worker and
   replica agrees, and asking again draws nothing new) of the entry id and the query; a match
   counts when `distance <= threshold + r`, for the service's threshold and every named bank's.
   Within the threshold a copy always matches (recall never drops); `1..jitter` bits past it,
   with a chance falling smoothly from 1 to 0 (`acceptance`), the smooth fall making each
   answer near the edge worth little.
3. **A probe guard.** Every bit of information about an entry comes from queries near its
   edge: a copy `D` bits away tells anything about a bit only if flipping that bit changes its
   chance to match, which needs `threshold <= D <= threshold + jitter + 1`, so the attacker's
   queries land at `threshold - 1 .. threshold + jitter + 2` whichever way the bit is. A key that sends `probe_budget` distinct
   such queries for one entry within `probe_window_s` is suspended (429 on every match route)
   for that long, twice as long at each further suspension (strikes), with a warning in the
   log and a `match.probe_suspend` event in the audit log; an admin lists suspensions and lifts
   one, which forgets the key's strikes (`/v1/match/suspensions`).

Keys with the `read` permission see exact distances and values: they may read the bank anyway.
`docs/service.md` ("Matching privacy") gives the measured cost of the attacks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hashwarden._time import utc_now, utc_text
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.index.matcher import Match

__all__ = [
    "MAX_DOUBLINGS",
    "MatchPrivacy",
    "NearMatchPrivacy",
    "Suspension",
    "acceptance",
    "reach",
]

log = logging.getLogger("hashwarden.service.privacy")

#: (key, entry) pairs whose edge queries are counted at once; the oldest are forgotten first.
MAX_WATCHED = 10_000
#: A suspension lasts the window times 2 ** (strikes - 1), at most this many doublings.
MAX_DOUBLINGS = 10


@dataclass(frozen=True)
class MatchPrivacy:
    """How near matches are shown to keys that may not read the bank."""

    #: Bits past a threshold a near match may still count (0: a sharp edge; not advised).
    jitter: int = 8
    #: Distinct edge queries for one entry that suspend a key (0: never suspend).
    probe_budget: int = 128
    #: The window those queries are counted in, and how long a first suspension lasts.
    probe_window_s: float = 86_400.0
    #: The noise key; None: the bank's own (generated once, kept in its `meta` table).
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.jitter <= 64:
            raise UsageError("the match jitter must be between 0 and 64 bits")
        if self.probe_budget < 0 or self.probe_window_s <= 0:
            raise UsageError("the probe budget must be >= 0 and its window > 0 seconds")

    @classmethod
    def from_env(cls) -> MatchPrivacy:
        """Reads `HASHWARDEN_MATCH_JITTER`, `HASHWARDEN_PROBE_BUDGET`, `HASHWARDEN_PROBE_WINDOW_S`."""
        env = os.environ.get
        try:
            return cls(
                jitter=int(env("HASHWARDEN_MATCH_JITTER", cls.jitter)),
                probe_budget=int(env("HASHWARDEN_PROBE_BUDGET", cls.probe_budget)),
                probe_window_s=float(env("HASHWARDEN_PROBE_WINDOW_S", cls.probe_window_s)),
            )
        except ValueError as exc:
            raise UsageError(f"match privacy settings: {exc}") from exc


def acceptance(excess: int, jitter: int) -> float:
    """The chance that a near match `excess` bits past a threshold still counts: 1 within it,
    then cos² falling to 0 after `jitter` bits (flat at both ends, so no step in the band is
    much easier to tell from its neighbours than another)."""
    if excess <= 0:
        return 1.0
    if excess > jitter:
        return 0.0
    return math.cos(math.pi * excess / (2 * (jitter + 1))) ** 2


def reach(secret: bytes, entry: int, query: str, jitter: int) -> int:
    """How far past a threshold this query may match this entry: the largest `k` in
    `0..jitter` with `acceptance(k) > u`, `u` uniform in [0, 1) from a keyed hash."""
    digest = hmac.new(secret, f"{entry}:{query}".encode(), hashlib.sha256).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return max(k for k in range(jitter + 1) if acceptance(k, jitter) > u)


@dataclass(frozen=True)
class Suspension:
    """A key's latest suspension for probing; `active` until `until`, its strikes kept after."""

    key: str
    entry: int
    since: str
    until: str
    queries: int
    strikes: int
    active: bool


_SUSPENSION_COLUMNS = "key_name, entry_id, since, until, queries, strikes"


class NearMatchPrivacy:
    """Decides and shows near matches for keys that may not read the bank, and watches their
    queries near each entry's edge. Callers serialise use of the bank's connection (the
    service calls it under its lock)."""

    def __init__(self, bank: BankStore, settings: MatchPrivacy, threshold: int) -> None:
        self.bank = bank
        self.settings = settings
        self.threshold = threshold
        self._secret = (settings.secret or self._bank_secret()).encode()
        #: (key, entry) -> (window start, digests of the distinct edge queries seen).
        self._watched: dict[tuple[str, int], tuple[float, set[bytes]]] = {}
        self._suspended: dict[str, str] = {}
        self._read_at = -math.inf

    def _bank_secret(self) -> str:
        """The deployment's noise key: one for every worker and replica of the bank."""
        with self.bank.db.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('match_noise_key', ?)"
                " ON CONFLICT(key) DO NOTHING",
                (secrets.token_hex(32),),
            )
        rows = self.bank.db.query("SELECT value FROM meta WHERE key = 'match_noise_key'")
        return str(rows[0][0])

    @property
    def radius(self) -> int:
        """How far the matcher searches for these keys: the band and the two bits past it (a
        query there is a sure "no", which is evidence too, so it is watched)."""
        return self.threshold + self.settings.jitter + 2

    # -- deciding ---------------------------------------------------------------------------
    def decide(self, matches: Iterable[Match], queries: Mapping[str, str]) -> list[Match]:
        """The matches to decide with: an exact match as it is; a near one with its distance
        lowered by its reach (never below 1), dropped when still past the threshold. Named
        banks' thresholds then apply to these distances, so their edges are noisy too.
        `queries`: the PDQ value sent for each orientation ("original", turns, trims)."""
        decided = []
        for match in matches:
            if match.kind == "pdq" and match.distance > 0:
                query = queries.get(match.orientation, "")
                r = reach(self._secret, match.entry, query, self.settings.jitter)
                match = replace(match, distance=max(1, match.distance - r))
                if match.distance > self.threshold:
                    continue
            decided.append(match)
        return decided

    # -- watching ---------------------------------------------------------------------------
    def watch(
        self,
        key: str,
        matches: Iterable[Match],
        queries: Mapping[str, str],
        floors: Callable[[list[int]], Mapping[int, int]],
    ) -> None:
        """Count this key's distinct queries near each entry's edge (from a bit inside its
        lowest threshold to two bits past the band); suspend the key when one entry's count
        reaches the budget.
        `floors`: entry ids -> their lowest threshold (the service's or a named bank's)."""
        budget = self.settings.probe_budget
        near = [m for m in matches if m.kind == "pdq" and m.distance > 0]
        if not budget or not near:
            return
        lowest = floors(sorted({m.entry for m in near}))
        now = time.monotonic()
        for match in near:
            if not lowest.get(match.entry, self.threshold) - 1 <= match.distance <= self.radius:
                continue
            pair = (key, match.entry)
            started, seen = self._watched.get(pair, (now, set()))
            if now - started > self.settings.probe_window_s:
                started, seen = now, set()
                self._watched.pop(pair, None)
            seen.add(hashlib.sha256(queries.get(match.orientation, "").encode()).digest()[:8])
            self._watched[pair] = (started, seen)
            if len(self._watched) > MAX_WATCHED:
                self._watched.pop(next(iter(self._watched)))
            if len(seen) >= budget:
                self._watched.pop(pair, None)
                self._suspend(key, match.entry, len(seen))
                return

    def _suspend(self, key: str, entry: int, queries: int) -> None:
        now = datetime.now(UTC)
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("match_suspensions", "key_name = ?", (key,)),
        ):
            before = conn.execute(
                "SELECT strikes FROM match_suspensions WHERE key_name = ?", (key,)
            ).fetchone()
            strikes = 1 if before is None else int(before[0]) + 1
            doublings = min(strikes - 1, MAX_DOUBLINGS)
            until = utc_text(now + timedelta(seconds=self.settings.probe_window_s * 2**doublings))
            conn.execute(
                "INSERT INTO match_suspensions(key_name, entry_id, since, until, queries, strikes)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(key_name) DO UPDATE SET entry_id ="
                " excluded.entry_id, since = excluded.since, until = excluded.until,"
                " queries = excluded.queries, strikes = excluded.strikes",
                (key, entry, utc_text(now), until, queries, strikes),
            )
            detail = {"key": key, "entry": entry, "queries": queries, "until": until}
            self.bank.audit.record("service", "match.probe_suspend", {**detail, "strikes": strikes})
        self._suspended[key] = until
        log.warning(
            "key %s suspended until %s (strike %d) for probing: %d distinct queries near entry"
            " %d's match threshold within %.0f s",
            key,
            until,
            strikes,
            queries,
            entry,
            self.settings.probe_window_s,
        )

    def suspended_until(self, key: str) -> str | None:
        """When this key's suspension ends (None: not suspended); read from the bank at most
        once a second, so a suspension or a lift in any worker or replica applies at once."""
        now = time.monotonic()
        if now - self._read_at > 1.0:
            rows = self.bank.db.query(
                "SELECT key_name, until FROM match_suspensions WHERE until > ?", (utc_now(),)
            )
            self._suspended = {str(k): str(u) for k, u in rows}
            self._read_at = now
        until = self._suspended.get(key)
        return until if until is not None and until > utc_now() else None

    def known_unsuspended(self, key: str) -> bool:
        """True when, without asking the bank, this key is known not to be suspended (the
        copy read from the bank is under a second old and does not name it)."""
        return time.monotonic() - self._read_at <= 1.0 and key not in self._suspended

    def suspensions(self) -> list[Suspension]:
        """Every key suspended now or before (its strikes count until an admin lifts them)."""
        now = utc_now()
        rows = self.bank.db.query(
            f"SELECT {_SUSPENSION_COLUMNS} FROM match_suspensions ORDER BY since"
        )
        return [
            Suspension(str(k), int(e), str(s), str(u), int(q), int(n), str(u) > now)
            for k, e, s, u, q, n in rows
        ]

    def lift(self, key: str, *, actor: str) -> None:
        """End a key's suspension now and forget its strikes (audited)."""
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("match_suspensions", "key_name = ?", (key,)),
        ):
            gone = conn.execute(
                "DELETE FROM match_suspensions WHERE key_name = ? RETURNING key_name", (key,)
            ).fetchone()
            if gone is None:
                raise NotFoundError(f"key {key!r} has no suspension")
            self.bank.audit.record(actor, "match.probe_lift", {"key": key})
        self._suspended.pop(key, None)
        self._watched = {pair: v for pair, v in self._watched.items() if pair[0] != key}
