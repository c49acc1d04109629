"""A small bank matched without its indexes: exact kinds asked of the bank, PDQ hashes
compared one by one with `int.bit_count`. For a few thousand signals this takes well under a
millisecond, less than importing numpy (which the indexes need) takes to start, so
`hashwarden match` on a small bank starts as fast as `--help` (docs/bench/startup.md). The
answers are those of `BankMatcher` (tests/index/test_small.py compares them).
"""

from __future__ import annotations

from collections.abc import Iterable

from hashwarden.bank.protocols import BankStore
from hashwarden.index._matching import Matcher
from hashwarden.signals.kinds import VideoFrame, parse_vpdq
from hashwarden.signals.views import FULL

__all__ = ["SMALL_BANK", "SmallBankMatcher", "is_small", "open_matcher"]

#: Banks holding at most this many signals and known-good values are small.
SMALL_BANK = 10_000


def is_small(bank: BankStore, limit: int | None = None) -> bool:
    """Whether the bank holds at most `limit` (`SMALL_BANK`) signals and known-good values
    (counted only up to the limit, so a large bank costs no more to ask than a small one)."""
    limit = SMALL_BANK if limit is None else limit
    row = bank.db.execute(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM signals LIMIT ?) AS s),"
        " (SELECT COUNT(*) FROM (SELECT 1 FROM known_good LIMIT ?) AS k)",
        (limit + 1, limit + 1),
    ).fetchone()
    return int(row[0]) + int(row[1]) <= limit


def open_matcher(
    bank: BankStore, *, threshold: int = 31, exclude_disputed: bool = False
) -> Matcher:
    """The matcher for a bank: `SmallBankMatcher` for a small one, else `BankMatcher`."""
    if is_small(bank):
        return SmallBankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)
    from hashwarden.index.matcher import BankMatcher

    return BankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)


class SmallBankMatcher(Matcher):
    """Matches by reading the bank's PDQ hashes into a list at start and asking the bank for
    exact values; known-good values and videos are read the first time a query needs them."""

    def __init__(
        self, bank: BankStore, *, threshold: int = 31, exclude_disputed: bool = False
    ) -> None:
        super().__init__(bank, threshold=threshold, exclude_disputed=exclude_disputed)
        self._pdq = [(eid, int(value, 16)) for eid, value in bank.entries.signals("pdq")]
        #: kind -> value -> the known-good sets holding it.
        self._known_good: dict[str, dict[str, list[str]]] = {}
        self._videos: dict[int, list[VideoFrame]] | None = None
        self._frames: list[tuple[int, int]] = []
        #: (entry, view, hash) of the banked views, and each such entry's whole picture.
        own = dict(self._pdq)
        self._views = [(eid, name, int(v, 16)) for eid, name, v in bank.views.all() if eid in own]
        self._views += [(eid, FULL, own[eid]) for eid in sorted({v[0] for v in self._views})]

    @property
    def has_views(self) -> bool:
        return bool(self._views)

    def _view_hits(self, hexes: list[str], radius: int) -> list[list[tuple[int, str, int]]]:
        found = []
        for value in hexes:
            query = int(value, 16)
            near = [
                (eid, name, d)
                for eid, name, banked in self._views
                if (d := (query ^ banked).bit_count()) <= radius
            ]
            found.append(sorted(near, key=lambda hit: (hit[2], hit[0])))
        return found

    def _owners(self, kind: str, value: str) -> list[int]:
        owner = self.bank.entries.lookup(kind, [value]).get(value)
        return [] if owner is None else [owner]

    def _known_good_sets(self, kind: str, value: str) -> list[str]:
        sets = self._known_good.get(kind)
        if sets is None:
            sets = self._known_good[kind] = {}
            for banked, name in self.bank.known_good.signals(kind):
                sets.setdefault(banked, []).append(name)
        return sets.get(value, [])

    def _pdq_hits(self, value: str, radius: int) -> Iterable[tuple[int, int]]:
        query = int(value, 16)
        return [
            (eid, d) for eid, banked in self._pdq if (d := (query ^ banked).bit_count()) <= radius
        ]

    def _frame_owners(self, frame: str) -> Iterable[int]:
        self._load_videos()
        query = int(frame, 16)
        return {eid for eid, f in self._frames if (query ^ f).bit_count() <= self.threshold}

    def _video(self, entry_id: int) -> list[VideoFrame]:
        return self._load_videos()[entry_id]

    def _load_videos(self) -> dict[int, list[VideoFrame]]:
        if self._videos is None:
            self._videos = {eid: parse_vpdq(v) for eid, v in self.bank.entries.signals("vpdq")}
            self._frames = [
                (eid, int(f.pdq, 16)) for eid, frames in self._videos.items() for f in frames
            ]
        return self._videos
