"""Match content hashes against a bank through its in-memory indexes: exact kinds by look-up,
PDQ by distance (a small bank is matched without them: `hashwarden.index.small`)."""

from __future__ import annotations

from collections.abc import Iterable

from hashwarden._types import Match, MatchResult
from hashwarden.bank.base import Entry
from hashwarden.bank.protocols import BankStore
from hashwarden.index._matching import MIN_PDQ_QUALITY, Matcher
from hashwarden.index.exact import ExactIndex, KnownGoodIndex
from hashwarden.index.pdq import PdqIndex
from hashwarden.index.saved import BankIndexes
from hashwarden.signals.kinds import VideoFrame, parse_vpdq

__all__ = ["MIN_PDQ_QUALITY", "BankMatcher", "Match", "MatchResult"]


class BankMatcher(Matcher):
    """Holds a bank's indexes in memory (PDQ, exact kinds of entries and of known-good sets), so
    a match asks the bank only for the entries it found. They are loaded from the copy saved
    beside the bank and caught up with it, or built from the bank and saved for the next
    start (see `hashwarden.index.saved`)."""

    def __init__(
        self, bank: BankStore, *, threshold: int = 31, exclude_disputed: bool = False
    ) -> None:
        super().__init__(bank, threshold=threshold, exclude_disputed=exclude_disputed)
        self.indexes = BankIndexes.open(bank)
        #: The entries added or changed that the last `refresh` applied.
        self.changed: list[Entry] = []
        self._load_videos()

    @property
    def pdq_index(self) -> PdqIndex:
        return self.indexes.pdq

    @property
    def exact_index(self) -> ExactIndex:
        return self.indexes.exact

    @property
    def known_good_index(self) -> KnownGoodIndex:
        return self.indexes.known_good

    @property
    def has_views(self) -> bool:
        return len(self.indexes.views) > 0

    def _load_videos(self) -> None:
        self.videos = {
            entry_id: parse_vpdq(value) for entry_id, value in self.bank.entries.signals("vpdq")
        }
        frames = [(eid, f.pdq) for eid, fs in self.videos.items() for f in fs]
        self.frame_index = PdqIndex([f[0] for f in frames], [f[1] for f in frames])

    def refresh(self) -> int:
        """Apply the bank's changes since the index was built or last refreshed: added entries
        become searchable, removed ones are never returned, known-good sets are reloaded when
        they changed. Returns the changes applied; `changed` holds the entries added or
        changed."""
        changes = self.indexes.refresh(self.bank)
        if changes.removed or any(e.signal("vpdq") for e in changes.changed):
            self._load_videos()
        self.changed = list(changes.changed)
        return len(changes)

    def holds(self, kind: str) -> bool:
        """Whether entries or known-good sets may hold values of `kind`, so content is worth
        hashing for it (True for a kind without a table in memory: only the bank knows)."""
        for index in (self.exact_index, self.known_good_index.index):
            table = index.tables.get(kind)
            if table is None or len(table):
                return True
        return False

    def _owners(self, kind: str, value: str) -> list[int]:
        """Entries holding this exact value: from memory; the bank is asked only for kinds
        without a table, or to confirm a hit on a kind keyed by its SHA-256."""
        hits = _labels(self.exact_index, kind, value)
        if hits is None or (hits and not self.exact_index.tables[kind].verified):
            owner = self.bank.entries.lookup(kind, [value]).get(value)
            return [] if owner is None else [owner]
        return hits

    def _known_good_sets(self, kind: str, value: str) -> list[str]:
        """Names of the known-good sets holding this value (asking the bank as `_owners`)."""
        index = self.known_good_index
        hits = _labels(index.index, kind, value)
        if hits is None or (hits and not index.index.tables[kind].verified):
            return list(self.bank.known_good.lookup(kind, [value]).values())
        return [index.names[h] for h in hits]

    def _pdq_hits(self, value: str, radius: int) -> Iterable[tuple[int, int]]:
        return self.pdq_index.query(value, radius, complete=self.threshold)

    def _pdq_hits_many(self, values: list[str], radius: int) -> list[Iterable[tuple[int, int]]]:
        # one call for a picture and its variants: a query's fixed costs paid once
        return list(self.pdq_index.query_many(values, radius, complete=self.threshold))

    def _frame_owners(self, frame: str) -> Iterable[int]:
        return (eid for eid, _ in self.frame_index.query(frame, self.threshold))

    def _video(self, entry_id: int) -> list[VideoFrame]:
        return self.videos[entry_id]

    def _view_hits(self, hexes: list[str], radius: int) -> list[list[tuple[int, str, int]]]:
        return self.indexes.views.query_many(hexes, radius, complete=self.threshold)


def _labels(index: ExactIndex, kind: str, value: str) -> list[int] | None:
    """Labels of the value in the index, or None when the index has no table for the kind."""
    table = index.tables.get(kind)
    return None if table is None else table.find_one(value)
