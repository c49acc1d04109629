"""What one worker of the service holds, and how it matches: the bank's connections, the
matcher, keys, limits, metrics, and the pools that keep work off the event loop.

Routes reach it through `StateDep` (the app keeps it in `app.state.hashwarden`); nothing here
knows of routes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hashwarden._time import parse_utc
from hashwarden.bank.protocols import BankStore
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.index.matcher import BankMatcher, Match, MatchResult
from hashwarden.service.actions import ActionEngine
from hashwarden.service.banks import BankMatch, NamedBanks, Resolved
from hashwarden.service.keys import ApiKey, KeyRing
from hashwarden.service.metrics import Metrics
from hashwarden.service.offload import ActionQueue, DecodePool
from hashwarden.service.privacy import NearMatchPrivacy
from hashwarden.service.ratelimit import RateLimiter, SharedRateLimiter
from hashwarden.service.recent import RecentLookups
from hashwarden.service.settings import ServiceSettings
from hashwarden.service.tally import MatchTally

__all__ = ["ServiceState", "StateDep", "service_state"]

#: Signal kinds a quick match handles (a vPDQ may compare many frames: never on the loop).
_QUICK_KINDS = frozenset({"pdq", "md5", "sha1", "sha256"})


@dataclass
class ServiceState:
    """What one worker holds: the bank (one connection, so one lock) for changes, a second,
    read-only connection (`reader`, its own lock) for matching and keys, the matcher, and the
    pools that keep work off the event loop.

    With no `reader` both roles share `bank` and its lock, as before: matching then waits
    behind this worker's writes."""

    settings: ServiceSettings
    bank: BankStore
    reader: BankStore | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        reader = self.reader or self.bank
        self.read_lock = threading.Lock() if self.reader is not None else self.lock
        self.matcher = BankMatcher(reader, threshold=self.settings.threshold)
        #: When the index was last known to be current with the bank, and its PDQ hashes.
        self.refreshed = time.time()
        self.pdq_hashes = len(self.matcher.pdq_index)
        #: SQLite's count of other connections' commits when the index last caught up (None:
        #: not known, or a PostgreSQL bank): unchanged, the index is current without a query.
        self._local = self.reader is not None and reader.db.dialect.name == "sqlite"
        self._seen_version: int | None = None
        self.keys = KeyRing(reader, self.read_lock)
        node_dir = self.settings.node_dir
        self.limiter: RateLimiter | SharedRateLimiter = (
            SharedRateLimiter(Path(node_dir) / "rate-limits") if node_dir else RateLimiter()
        )
        self.banks = NamedBanks(self.bank)
        self.match_banks = NamedBanks(reader)
        self.metrics = Metrics()
        #: Look-ups answered with a match, by day (the dashboard's "matches today").
        self.tally = MatchTally(self.bank, self.lock, flush_s=self.settings.tally_flush_s)
        self.privacy = NearMatchPrivacy(self.bank, self.settings.privacy, self.settings.threshold)
        #: Named banks' thresholds as shown for a near match (the service's when unset).
        self._shown: dict[str, int] = {}
        self.engine = ActionEngine(self.bank, lock=self.lock, settings=self.settings.webhooks)
        self.actions = ActionQueue(
            self.engine,
            self.metrics,
            wait_s=self.settings.action_wait_s,
            capacity=self.settings.action_queue,
        )
        self.decodes = DecodePool(
            self.settings.max_decodes, self.settings.decode_queue, self.metrics
        )
        keep = self.settings.keep_recent_s
        #: With `--keep-recent`: the recent look-ups' hashes (service/recent.py).
        self.recent = RecentLookups(keep) if keep else None

    @contextmanager
    def locked(self) -> Iterator[BankStore]:
        with self.lock:
            yield self.bank

    @contextmanager
    def reading(self) -> Iterator[BankStore]:
        """The connection matching reads through (never waits for a write lock)."""
        with self.read_lock:
            yield self.reader or self.bank

    # -- matching ------------------------------------------------------------------------------
    def _data_version(self) -> int | None:
        if not self._local:
            return None
        return int((self.reader or self.bank).db.query("PRAGMA data_version")[0][0])

    def _catch_up(self) -> None:
        """Apply the bank's changes since the last look (from any worker, replica or the
        CLI); the caller holds the read lock."""
        version = self._data_version()  # read first: a commit meanwhile shows next time
        if self.matcher.refresh():
            self.pdq_hashes = len(self.matcher.pdq_index)  # a count over the whole index
        self._seen_version = version
        self.refreshed = time.time()
        self.metrics.index(self.pdq_hashes, self.refreshed)
        if self.recent is not None and self.matcher.changed:
            self._retro(self.recent)

    def _retro(self, recent: RecentLookups) -> None:
        """Fire the rules for recent look-ups the entries just applied now match."""
        for lookup, matches in recent.matches(self.matcher.changed, self.settings.threshold):
            self.actions.record(
                self.match_banks.resolve(matches).matches,
                lookup.signals,
                uploader_ref=lookup.uploader_ref,
                incident_time=lookup.incident_time,
                retro=True,
            )

    def catch_up(self) -> None:
        """Apply the bank's changes now (after a write), not at the next match."""
        with self.read_lock:
            self._catch_up()

    @contextmanager
    def _quickly(self, signals: dict[str, str], viewer: ApiKey) -> Iterator[bool]:
        """Holds the read lock and yields True when a look-up may be answered now, on the
        caller's thread (the event loop): the bank is a local SQLite file with a reader of its
        own (whose reads never wait for a writer), no other thread reads through it, the bank
        has not changed since the index last caught up (SQLite's `data_version`, no table
        read), the viewer's suspension is known without the bank, and every kind is quick
        (not vPDQ). Else yields False (the full path, in a thread)."""
        if not self._local or not signals.keys() <= _QUICK_KINDS or self.recent is not None:
            yield False  # (with --keep-recent every look-up is kept: the full path)
            return
        if not viewer.may("read") and not self.privacy.known_unsuspended(viewer.name):
            yield False
            return
        if not self.read_lock.acquire(blocking=False):
            yield False
            return
        try:
            current = self._seen_version is not None and self._data_version() == self._seen_version
            yield current
        finally:
            self.read_lock.release()
        if current:
            self.refreshed = time.time()
            self.metrics.index(self.pdq_hashes, self.refreshed)

    def quick_match(
        self, signals: dict[str, str], viewer: ApiKey, quality: int | None = None
    ) -> MatchResult | None:
        """The matcher's answer now (`_quickly`), or None when getting it could wait. A caller
        answers from it only when it found nothing: matches need the bank's rules, which the
        full path (`match`) applies in a thread."""
        with self._quickly(signals, viewer) as now:
            if not now:
                return None
            private = not viewer.may("read")
            return self.matcher.match(
                signals,
                pdq_quality=quality,
                threshold=self.privacy.radius if private else None,
            )

    def quick_match_raw(
        self, signals: dict[str, str], viewer: ApiKey
    ) -> tuple[list[Match], dict[int, list[tuple[str, str | None]]]] | None:
        """`match_raw` now (`_quickly`), or None when it could wait or needs the full path: a
        near match for a viewer that may not read the bank (its distance decided with the
        noisy edge, its query watched for probing, which may suspend the key: a write). A
        match's named banks are one indexed read through the reader."""
        with self._quickly(signals, viewer) as now:
            if not now:
                return None
            private = not viewer.may("read")
            radius = self.privacy.radius if private else None
            matches = self.matcher.match(signals, threshold=radius).matches
            if private and any(m.kind == "pdq" and m.distance for m in matches):
                return None
            members = self.match_banks.memberships(sorted({m.entry for m in matches}))
        if matches:
            self.tally.add()
        return matches, members

    def match(
        self,
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None = None,
        *,
        only: set[str] | None = None,
        coinflip: float | None = None,
        viewer: ApiKey | None = None,
        views: dict[str, str] | None = None,
    ) -> tuple[Resolved, list[str]]:
        """Apply the bank's changes since the last request (from any worker or replica), then
        match and resolve the named banks. Reads only: a write lock held elsewhere (a long
        import) does not stop it (SQLite's readers in WAL mode, PostgreSQL's MVCC). For a
        `viewer` that may not read the bank, near matches are decided with the noisy edge and
        its queries watched (`privacy`); the matches returned keep their true distances (for
        the action rules)."""
        private = viewer if viewer is not None and not viewer.may("read") else None
        with self.read_lock:
            if private is not None:
                self._refuse_if_suspended(private)
            self._catch_up()
            result = self.matcher.match(
                signals,
                pdq_quality=quality,
                pdq_variants=variants,
                threshold=None if private is None else self.privacy.radius,
                pdq_views=views,
            )
            matches = result.matches
            if private is not None:
                queries = {"original": signals.get("pdq", ""), **(variants or {})}
                matches = self._decide_privately(private, matches, queries)
            resolved = self.match_banks.resolve(matches, only=only, coinflip=coinflip)
            if resolved.matches:
                reader = self.reader or self.bank
                behind = ProgrammeExchanges(reader).provenance(
                    sorted({found.match.entry for found in resolved.matches})
                )
                for found in resolved.matches:
                    found.exchanges = behind.get(found.match.entry, [])
            if private is not None:
                truth = {(m.entry, m.kind): m for m in result.matches}
                resolved.matches = [
                    BankMatch(
                        truth[(found.match.entry, found.match.kind)], found.banks, found.exchanges
                    )
                    for found in resolved.matches
                ]
                if any(found.match.distance for found in resolved.matches):
                    self._shown = {
                        b.name: min(b.threshold, self.settings.threshold)
                        for b in self.match_banks.all()
                        if b.threshold is not None
                    }
        self.metrics.matched(len(resolved.matches))
        if resolved.matches:
            self.tally.add()
        return resolved, result.known_good

    def match_and_act(
        self,
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None = None,
        *,
        only: set[str] | None = None,
        viewer: ApiKey | None = None,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
        views: dict[str, str] | None = None,
    ) -> tuple[Resolved, list[str]]:
        """`match`, then hand its actions to the queue, waiting for them only briefly."""
        resolved, known_good = self.match(
            signals, quality, variants, only=only, viewer=viewer, views=views
        )
        if self.recent is not None:
            self.recent.add(
                signals,
                quality,
                variants,
                [found.match for found in resolved.matches],
                uploader_ref=uploader_ref,
                incident_time=incident_time,
            )
        self.actions.record(
            resolved.matches, signals, uploader_ref=uploader_ref, incident_time=incident_time
        )
        return resolved, known_good

    def match_raw(
        self, signals: dict[str, str], viewer: ApiKey
    ) -> tuple[list[Match], dict[int, list[tuple[str, str | None]]]]:
        """Every match and the named banks of its entry, ignoring the banks' state (HMA's raw
        look-up); near matches decided as in `match` for a viewer that may not read."""
        private = not viewer.may("read")
        with self.read_lock:
            if private:
                self._refuse_if_suspended(viewer)
            self._catch_up()
            radius = self.privacy.radius if private else None
            matches = self.matcher.match(signals, threshold=radius).matches
            if private:
                decided = self._decide_privately(
                    viewer, matches, {"original": signals.get("pdq", "")}
                )
                kept = {(m.entry, m.kind) for m in decided}
                matches = [m for m in matches if (m.entry, m.kind) in kept]
            members = self.match_banks.memberships(sorted({m.entry for m in matches}))
        if matches:
            self.tally.add()
        return matches, members

    def _decide_privately(
        self, viewer: ApiKey, matches: list[Match], queries: dict[str, str]
    ) -> list[Match]:
        self.privacy.watch(viewer.name, matches, queries, self._lowest_thresholds)
        return self.privacy.decide(matches, queries)

    def _lowest_thresholds(self, entry_ids: list[int]) -> dict[int, int]:
        """Each entry's lowest threshold: the service's, or a stricter named bank's."""
        members = self.match_banks.memberships(entry_ids)
        own = {b.name: b.threshold for b in self.match_banks.all() if b.threshold is not None}
        return {
            entry: min(
                [self.settings.threshold]
                + [own[name] for name, _ in members.get(entry, []) if name in own]
            )
            for entry in entry_ids
        }

    def _refuse_if_suspended(self, viewer: ApiKey) -> None:
        until = self.privacy.suspended_until(viewer.name)
        if until is None:
            return
        left = parse_utc(until) - datetime.now(UTC)
        raise HTTPException(
            429,
            f"key {viewer.name!r} is suspended until {until} for probing: too many distinct"
            " queries near one banked entry's match threshold (an admin can lift it:"
            f" DELETE /v1/match/suspensions/{viewer.name})",
            headers={"Retry-After": str(max(1, int(left.total_seconds())))},
        )

    def shown_distance(self, found: BankMatch, bank: str | None = None) -> int:
        """The distance a key that may not read the bank sees: 0 for an exact match, else the
        threshold the match was within (`bank`'s, or the strictest of its banks')."""
        if found.match.distance == 0:
            return 0
        names = [bank] if bank is not None else found.banks
        service = self.settings.threshold
        return min([self._shown.get(name, service) for name in names] or [service])

    def close(self) -> None:
        """Stop the background work: queued actions are written first (for a while)."""
        self.actions.close()
        self.decodes.close()
        self.engine.close()
        self.tally.close()


async def service_state(request: Request) -> ServiceState:
    """The worker's state, for a route (async: no thread is used to fetch it)."""
    state: ServiceState = request.app.state.hashwarden
    return state


StateDep = Annotated[ServiceState, Depends(service_state)]
