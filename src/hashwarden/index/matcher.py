"""Match content hashes against a bank: exact kinds by look-up, PDQ by distance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hashwarden.bank.sqlite import SqliteBank
from hashwarden.index.pdq import PdqIndex

__all__ = ["MIN_PDQ_QUALITY", "BankMatcher", "Match", "MatchResult"]

#: PDQ hashes of lower quality (featureless images) never near-match on their own.
MIN_PDQ_QUALITY = 50


@dataclass
class Match:
    entry: int
    kind: str
    value: str
    distance: int
    category: str
    series: str | None
    victim_identified: bool
    #: How the content matched: "original", or the turn or trim that made it match.
    orientation: str = "original"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MatchResult:
    matches: list[Match]
    #: Known-good set names the content belongs to.
    known_good: list[str]


class BankMatcher:
    """Holds a bank's PDQ index in memory; exact kinds are looked up in the bank itself."""

    def __init__(self, bank: SqliteBank, *, threshold: int = 31) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError("threshold must be between 0 and 256")
        self.bank = bank
        self.threshold = threshold
        pairs = list(bank.signals("pdq"))
        self.pdq_index = PdqIndex([p[0] for p in pairs], [p[1] for p in pairs])

    def match(
        self,
        signals: dict[str, str],
        *,
        pdq_quality: int | None = None,
        pdq_variants: dict[str, str] | None = None,
    ) -> MatchResult:
        """Every entry the content matches: exact kinds by value, PDQ (and its turned or
        trimmed variants) within the threshold unless the hash is of low quality."""
        # (entry, kind) -> (value, distance, orientation); the nearest wins.
        found: dict[tuple[int, str], tuple[str, int, str]] = {}
        for kind, value in signals.items():
            owner = self.bank.lookup(kind, [value]).get(value)
            if owner is not None:
                found[(owner, kind)] = (value, 0, "original")
        pdq = signals.get("pdq")
        if pdq is not None and (pdq_quality is None or pdq_quality >= MIN_PDQ_QUALITY):
            candidates = {"original": pdq, **(pdq_variants or {})}
            for orientation, value in candidates.items():
                for entry_id, distance in self.pdq_index.query(value, self.threshold):
                    best = found.get((entry_id, "pdq"))
                    if best is None or distance < best[1]:
                        found[(entry_id, "pdq")] = (value, distance, orientation)
        entries = self.bank.entries_by_id(eid for eid, _ in found)
        matches: list[Match] = []
        for (eid, kind), (value, distance, orientation) in sorted(
            found.items(), key=lambda i: (i[1][1], i[0])
        ):
            entry = entries.get(eid)
            if entry is None:
                continue
            banked = entry.signal(kind) or value
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
                )
            )
        known_good: set[str] = set()
        for kind, value in signals.items():
            known_good.update(self.bank.known_good_lookup(kind, [value]).values())
        return MatchResult(matches, sorted(known_good))

    def match_many(self, batch: Sequence[tuple[dict[str, str], int | None]]) -> list[MatchResult]:
        return [self.match(signals, pdq_quality=q) for signals, q in batch]
