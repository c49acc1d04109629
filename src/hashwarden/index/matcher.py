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

    def match(self, signals: dict[str, str], *, pdq_quality: int | None = None) -> MatchResult:
        found: dict[tuple[int, str], tuple[str, int]] = {}
        for kind, value in signals.items():
            if kind == "pdq":
                continue
            owner = self.bank.lookup(kind, [value]).get(value)
            if owner is not None:
                found[(owner, kind)] = (value, 0)
        pdq = signals.get("pdq")
        if pdq is not None:
            exact = self.bank.lookup("pdq", [pdq]).get(pdq)
            if exact is not None:
                found[(exact, "pdq")] = (pdq, 0)
            if pdq_quality is None or pdq_quality >= MIN_PDQ_QUALITY:
                for entry_id, distance in self.pdq_index.query(pdq, self.threshold):
                    found.setdefault((entry_id, "pdq"), (pdq, distance))
        entries = self.bank.entries_by_id(eid for eid, _ in found)
        matches: list[Match] = []
        for (eid, kind), (value, distance) in sorted(found.items(), key=lambda i: (i[1][1], i[0])):
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
                )
            )
        known_good: set[str] = set()
        for kind, value in signals.items():
            known_good.update(self.bank.known_good_lookup(kind, [value]).values())
        return MatchResult(matches, sorted(known_good))

    def match_many(self, batch: Sequence[tuple[dict[str, str], int | None]]) -> list[MatchResult]:
        return [self.match(signals, pdq_quality=q) for signals, q in batch]
