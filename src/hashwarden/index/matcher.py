"""Match content hashes against a bank: exact kinds by look-up, PDQ by distance."""

from __future__ import annotations

from hashwarden._types import Match, MatchResult
from hashwarden.bank.protocols import BankStore
from hashwarden.index.exact import ExactIndex, KnownGoodIndex
from hashwarden.index.pdq import PdqIndex
from hashwarden.index.saved import BankIndexes
from hashwarden.signals.video import parse_vpdq, vpdq_match_percentages

__all__ = ["MIN_PDQ_QUALITY", "BankMatcher", "Match", "MatchResult"]

#: PDQ hashes of lower quality (featureless images) never near-match on their own.
MIN_PDQ_QUALITY = 50
#: A video matches when this share (%) of its good frames is found in a banked video, and
#: this share of the banked video's frames is found in it (python-threatexchange's defaults).
VPDQ_QUERY_MATCH = 80.0
VPDQ_COMPARED_MATCH = 0.0


class BankMatcher:
    """Holds a bank's indexes in memory (PDQ, exact kinds of entries and of known-good sets), so
    a match asks the bank only for the entries it found. They are loaded from the copy saved
    beside the bank and caught up with it, or built from the bank and saved for the next
    start (see `hashwarden.index.saved`)."""

    def __init__(
        self, bank: BankStore, *, threshold: int = 31, exclude_disputed: bool = False
    ) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError("threshold must be between 0 and 256")
        self.bank = bank
        self.threshold = threshold
        #: Policy: entries more organisations dispute than confirm never match.
        self.exclude_disputed = exclude_disputed
        self.indexes = BankIndexes.open(bank)
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

    def _load_videos(self) -> None:
        self.videos = {
            entry_id: parse_vpdq(value) for entry_id, value in self.bank.entries.signals("vpdq")
        }
        frames = [(eid, f.pdq) for eid, fs in self.videos.items() for f in fs]
        self.frame_index = PdqIndex([f[0] for f in frames], [f[1] for f in frames])

    def refresh(self) -> int:
        """Apply the bank's changes since the index was built or last refreshed: added entries
        become searchable, removed ones are never returned, known-good sets are reloaded when
        they changed. Returns the changes applied."""
        changes = self.indexes.refresh(self.bank)
        if changes.removed or any(e.signal("vpdq") for e in changes.changed):
            self._load_videos()
        return len(changes)

    def match(
        self,
        signals: dict[str, str],
        *,
        pdq_quality: int | None = None,
        pdq_variants: dict[str, str] | None = None,
        threshold: int | None = None,
    ) -> MatchResult:
        """Every entry the content matches: exact kinds by value, PDQ (and its turned or
        trimmed variants) within the threshold unless the hash is of low quality.
        `threshold`: a wider PDQ image distance for this call (videos keep the matcher's):
        matches within the matcher's own threshold are all found, those further nearly all
        (the index verifies the same candidates further: see `PdqIndex.query`'s `complete`)."""
        radius = self.threshold if threshold is None else threshold
        # (entry, kind) -> (value, distance, orientation); the nearest wins.
        found: dict[tuple[int, str], tuple[str, int, str]] = {}
        for kind, value in signals.items():
            if kind == "vpdq":
                continue
            for owner in self._owners(kind, value):
                found[(owner, kind)] = (value, 0, "original")
        video = self._match_video(signals["vpdq"]) if "vpdq" in signals else {}
        for entry_id in video:
            found[(entry_id, "vpdq")] = (signals["vpdq"], 0, "original")
        pdq = signals.get("pdq")
        if pdq is not None and (pdq_quality is None or pdq_quality >= MIN_PDQ_QUALITY):
            candidates = {"original": pdq, **(pdq_variants or {})}
            for orientation, value in candidates.items():
                hits = self.pdq_index.query(value, radius, complete=self.threshold)
                for entry_id, distance in hits:
                    best = found.get((entry_id, "pdq"))
                    if best is None or distance < best[1]:
                        found[(entry_id, "pdq")] = (value, distance, orientation)
        if self.exclude_disputed:
            disputed = self.bank.provenance.disputed()
            found = {key: hit for key, hit in found.items() if key[0] not in disputed}
        entries = self.bank.entries.by_id(eid for eid, _ in found)
        matches: list[Match] = []
        for (eid, kind), (value, distance, orientation) in sorted(
            found.items(), key=lambda i: (i[1][1], i[0])
        ):
            entry = entries.get(eid)
            if entry is None:
                continue
            banked = entry.signal(kind) or value
            shares = video.get(eid, (None, None)) if kind == "vpdq" else (None, None)
            matches.append(
                Match(
                    eid,
                    kind,
                    banked,
                    distance,
                    entry.category,
                    entry.series,
                    entry.victim_identified,
                    orientation,
                    *shares,
                )
            )
        known_good: set[str] = set()
        for kind, value in signals.items():
            known_good.update(self._known_good_sets(kind, value))
        return MatchResult(matches, sorted(known_good))

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

    def _match_video(self, value: str) -> dict[int, tuple[float, float]]:
        """Banked videos this vPDQ matches, with (query_match, compared_match) percentages."""
        query = parse_vpdq(value)
        candidates: set[int] = set()
        for frame in {f.pdq for f in query if f.quality >= MIN_PDQ_QUALITY}:
            candidates.update(eid for eid, _ in self.frame_index.query(frame, self.threshold))
        matched: dict[int, tuple[float, float]] = {}
        for entry_id in candidates:
            shares = vpdq_match_percentages(query, self.videos[entry_id], threshold=self.threshold)
            if shares[0] >= VPDQ_QUERY_MATCH and shares[1] >= VPDQ_COMPARED_MATCH:
                matched[entry_id] = shares
        return matched


def _labels(index: ExactIndex, kind: str, value: str) -> list[int] | None:
    """Labels of the value in the index, or None when the index has no table for the kind."""
    table = index.tables.get(kind)
    return None if table is None else table.find_one(value)
