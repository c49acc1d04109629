"""What a match makes of a query, whatever holds the bank's signals: the in-memory indexes
(`BankMatcher`, numpy) or a plain scan of a small bank (`SmallBankMatcher`, no numpy). Both
answer every query alike; only where the signals are looked up differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from hashwarden._types import Match, MatchResult
from hashwarden.bank.protocols import BankStore
from hashwarden.signals.kinds import VideoFrame, parse_vpdq

__all__ = ["MIN_PDQ_QUALITY", "VPDQ_COMPARED_MATCH", "VPDQ_QUERY_MATCH", "Matcher"]

#: PDQ hashes of lower quality (featureless images) never near-match on their own.
MIN_PDQ_QUALITY = 50
#: A video matches when this share (%) of its good frames is found in a banked video, and
#: this share of the banked video's frames is found in it (python-threatexchange's defaults).
VPDQ_QUERY_MATCH = 80.0
VPDQ_COMPARED_MATCH = 0.0


class Matcher(ABC):
    """Matches content hashes against a bank: exact kinds by value, PDQ by distance, videos
    by the share of their frames. Subclasses say where the signals are found."""

    def __init__(
        self, bank: BankStore, *, threshold: int = 31, exclude_disputed: bool = False
    ) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError("threshold must be between 0 and 256")
        self.bank = bank
        self.threshold = threshold
        #: Policy: entries more organisations dispute than confirm never match.
        self.exclude_disputed = exclude_disputed

    @abstractmethod
    def _owners(self, kind: str, value: str) -> list[int]:
        """Entries holding this exact value."""

    @abstractmethod
    def _known_good_sets(self, kind: str, value: str) -> list[str]:
        """Names of the known-good sets holding this exact value."""

    @abstractmethod
    def _pdq_hits(self, value: str, radius: int) -> Iterable[tuple[int, int]]:
        """(entry, distance) of the banked PDQ hashes within `radius` of `value` (all of
        those within the matcher's threshold; further ones as `PdqIndex.query` finds them)."""

    @abstractmethod
    def _frame_owners(self, frame: str) -> Iterable[int]:
        """Entries with a banked video frame within the threshold of this PDQ frame."""

    @abstractmethod
    def _video(self, entry_id: int) -> list[VideoFrame]:
        """The frames of a banked video."""

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
                for entry_id, distance in self._pdq_hits(value, radius):
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

    def _match_video(self, value: str) -> dict[int, tuple[float, float]]:
        """Banked videos this vPDQ matches, with (query_match, compared_match) percentages."""
        # numpy compares the frames: imported only when a video is matched.
        from hashwarden.signals.video import vpdq_match_percentages

        query = parse_vpdq(value)
        candidates: set[int] = set()
        for frame in {f.pdq for f in query if f.quality >= MIN_PDQ_QUALITY}:
            candidates.update(self._frame_owners(frame))
        matched: dict[int, tuple[float, float]] = {}
        for entry_id in candidates:
            shares = vpdq_match_percentages(query, self._video(entry_id), threshold=self.threshold)
            if shares[0] >= VPDQ_QUERY_MATCH and shares[1] >= VPDQ_COMPARED_MATCH:
                matched[entry_id] = shares
        return matched
