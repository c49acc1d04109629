"""Recent look-ups kept for retroactive matching (`serve --keep-recent DURATION`, off by
default): the hashes of uploads and hash look-ups, never content, held in this worker's memory
for the window and then forgotten. When entries are added or changed, recent look-ups they
now match fire the action rules again, marked `"retro": true` (docs/service.md)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hashwarden._types import Match
from hashwarden.bank import Entry
from hashwarden.index.matcher import MIN_PDQ_QUALITY
from hashwarden.index.pdq import PdqIndex

__all__ = ["MAX_RECENT", "Lookup", "RecentLookups"]

#: Look-ups kept at most (the oldest go first): memory stays bounded whatever the traffic.
MAX_RECENT = 1_000_000


@dataclass
class Lookup:
    """One look-up's hashes and what it matched then."""

    at: float
    signals: dict[str, str]
    quality: int | None
    variants: dict[str, str]
    uploader_ref: str | None
    incident_time: datetime | None
    matched: set[int] = field(default_factory=set)


class RecentLookups:
    """The look-ups of the last `window_s` seconds, oldest first."""

    def __init__(
        self,
        window_s: float,
        *,
        capacity: int = MAX_RECENT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self._lookups: deque[Lookup] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._forget()
            return len(self._lookups)

    def add(
        self,
        signals: dict[str, str],
        quality: int | None,
        variants: dict[str, str] | None,
        matches: Sequence[Match],
        *,
        uploader_ref: str | None = None,
        incident_time: datetime | None = None,
    ) -> None:
        lookup = Lookup(
            self.clock(),
            dict(signals),
            quality,
            dict(variants or {}),
            uploader_ref,
            incident_time,
            {m.entry for m in matches},
        )
        with self._lock:
            self._forget()
            self._lookups.append(lookup)

    def _forget(self) -> None:
        horizon = self.clock() - self.window_s
        while self._lookups and self._lookups[0].at < horizon:
            self._lookups.popleft()

    def matches(self, entries: Sequence[Entry], threshold: int) -> list[tuple[Lookup, list[Match]]]:
        """The recent look-ups these (new or changed) entries match and did not match before,
        each with its new matches (nearest first)."""
        if not entries:
            return []
        by_value: dict[tuple[str, str], list[Entry]] = {}
        pdq_entries: list[Entry] = []
        for entry in entries:
            for signal in entry.signals:
                if signal.kind == "pdq":
                    pdq_entries.append(entry)
                elif signal.kind != "vpdq":
                    by_value.setdefault((signal.kind, signal.value), []).append(entry)
        index = None
        if pdq_entries:
            index = PdqIndex(
                [e.id for e in pdq_entries], [e.signal("pdq") or "" for e in pdq_entries]
            )
        by_id = {e.id: e for e in entries}
        with self._lock:
            self._forget()
            lookups = list(self._lookups)
        fired = []
        for lookup in lookups:
            found: dict[int, Match] = {}
            for kind, value in lookup.signals.items():
                for entry in by_value.get((kind, value), []):
                    found[entry.id] = _match(entry, kind, value, 0, "original")
            pdq = lookup.signals.get("pdq")
            usable = lookup.quality is None or lookup.quality >= MIN_PDQ_QUALITY
            if index is not None and pdq is not None and usable:
                for orientation, value in {"original": pdq, **lookup.variants}.items():
                    for entry_id, distance in index.query(value, threshold):
                        best = found.get(entry_id)
                        if best is None or distance < best.distance:
                            entry = by_id[entry_id]
                            found[entry_id] = _match(entry, "pdq", value, distance, orientation)
            new = [m for eid, m in found.items() if eid not in lookup.matched]
            if new:
                lookup.matched.update(m.entry for m in new)
                fired.append((lookup, sorted(new, key=lambda m: (m.distance, m.entry))))
        return fired


def _match(entry: Entry, kind: str, value: str, distance: int, orientation: str) -> Match:
    return Match(
        entry.id,
        kind,
        entry.signal(kind) or value,
        distance,
        entry.category,
        entry.series,
        entry.victim_identified,
        orientation,
    )
