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
from hashwarden.signals.views import FULL, comparable

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

    def _pdq_hits_many(self, values: list[str], radius: int) -> list[Iterable[tuple[int, int]]]:
        """`_pdq_hits` of each value (a picture and its variants), in one call where the
        matcher can search them together."""
        return [self._pdq_hits(value, radius) for value in values]

    @abstractmethod
    def _frame_owners(self, frame: str) -> Iterable[int]:
        """Entries with a banked video frame within the threshold of this PDQ frame."""

    @abstractmethod
    def _video(self, entry_id: int) -> list[VideoFrame]:
        """The frames of a banked video."""

    @property
    @abstractmethod
    def has_views(self) -> bool:
        """Whether some entries have views banked (signals/views.py), so a query's views are
        worth hashing (QUERY_VIEWS)."""

    @abstractmethod
    def _view_hits(self, hexes: list[str], radius: int) -> list[list[tuple[int, str, int]]]:
        """For each PDQ hash: (entry, banked view, distance) of the banked views (and the whole
        pictures, "full", of entries with views) within `radius` (as `_pdq_hits`)."""

    def match(
        self,
        signals: dict[str, str],
        *,
        pdq_quality: int | None = None,
        pdq_variants: dict[str, str] | None = None,
        threshold: int | None = None,
        pdq_views: dict[str, str] | None = None,
    ) -> MatchResult:
        """Every entry the content matches: exact kinds by value, PDQ (and its turned or
        trimmed variants) within the threshold unless the hash is of low quality.
        Entries banked with views are also matched view against view: the query's PDQ and
        variants against every banked view, each of `pdq_views` (the query's views, by name)
        against the banked views of its kind (`signals.views.comparable`); the match says which
        in `view`.
        `threshold`: a wider PDQ image distance for this call (videos keep the matcher's):
        matches within the matcher's own threshold are all found, those further nearly all
        (the index verifies the same candidates further: see `PdqIndex.query`'s `complete`)."""
        radius = self.threshold if threshold is None else threshold
        pdq = signals.get("pdq")
        near_pdq = pdq is not None and (pdq_quality is None or pdq_quality >= MIN_PDQ_QUALITY)
        # (entry, kind) -> (value, distance, orientation, view); the nearest wins.
        found: dict[tuple[int, str], tuple[str, int, str, str | None]] = {}
        for kind, value in signals.items():
            # (a PDQ searched by distance finds its exact copies at 0 without a look-up)
            if kind == "vpdq" or (kind == "pdq" and near_pdq):
                continue
            for owner in self._owners(kind, value):
                found[(owner, kind)] = (value, 0, "original", None)
        video = self._match_video(signals["vpdq"]) if "vpdq" in signals else {}
        for entry_id in video:
            found[(entry_id, "vpdq")] = (signals["vpdq"], 0, "original", None)
        if pdq is not None and near_pdq:
            candidates = {"original": pdq, **(pdq_variants or {})}
            hits = self._pdq_hits_many(list(candidates.values()), radius)
            for (orientation, value), near in zip(candidates.items(), hits, strict=True):
                for entry_id, distance in near:
                    best = found.get((entry_id, "pdq"))
                    if best is None or distance < best[1]:
                        found[(entry_id, "pdq")] = (value, distance, orientation, None)
            if self.has_views:
                # Views only find what the whole picture missed: a match today's rule finds
                # is reported as it always was.
                for key, hit in self._match_views(candidates, pdq_views or {}, radius).items():
                    found.setdefault(key, hit)
        if self.exclude_disputed and found:
            disputed = self.bank.provenance.disputed()
            found = {key: hit for key, hit in found.items() if key[0] not in disputed}
        entries = self.bank.entries.by_id(eid for eid, _ in found) if found else {}
        matches: list[Match] = []
        for (eid, kind), (value, distance, orientation, view) in sorted(
            found.items(), key=lambda i: (i[1][1], i[0])
        ):
            entry = entries.get(eid)
            if entry is None:
                continue
            banked = entry.signal(kind) or value
            query_match, compared_match = (
                video.get(eid, (None, None)) if kind == "vpdq" else (None, None)
            )
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
                    query_match,
                    compared_match,
                    view,
                )
            )
        known_good: set[str] = set()
        for kind, value in signals.items():
            known_good.update(self._known_good_sets(kind, value))
        return MatchResult(matches, sorted(known_good))

    def _match_views(
        self, candidates: dict[str, str], views: dict[str, str], radius: int
    ) -> dict[tuple[int, str], tuple[str, int, str, str | None]]:
        """The nearest view match of each entry banked with views: the query's whole picture
        (and turns, trims) against every banked view but the whole picture (matched above),
        each query view against the banked views of its kind, all at the matcher's distance
        (docs/bench/pdq_recall_real.md measured no false positive at 31)."""
        queries = [(orientation, FULL, value) for orientation, value in candidates.items()]
        queries += [("original", name, value) for name, value in views.items()]
        hits = self._view_hits([q[2] for q in queries], radius)
        found: dict[tuple[int, str], tuple[str, int, str, str | None]] = {}
        for (orientation, query_view, value), near in zip(queries, hits, strict=True):
            for entry_id, banked_view, distance in near:
                if query_view == FULL and banked_view == FULL:
                    continue
                if not comparable(query_view, banked_view):
                    continue
                best = found.get((entry_id, "pdq"))
                if best is None or distance < best[1]:
                    label = f"{query_view}/{banked_view}"
                    found[(entry_id, "pdq")] = (value, distance, orientation, label)
        return found

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
