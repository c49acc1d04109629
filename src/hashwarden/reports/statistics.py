"""Statistics: what was found, where and how it spreads, without content or personal data.

Every scan, P2P match or block can be recorded as events in the bank: a time, a channel
(p2p, darknet, social_media, web, device, upload, isp_block), an outcome (`known`: matched
known material; `new`: unknown images, candidate new material; `blocked`: a blocked
attempt), the category, series and victim-identified flag of the match, and a region where
the user gives one. Nothing else: no paths, no hashes, no addresses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from hashwarden._time import utc_now
from hashwarden._types import ScanResult
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import UsageError

__all__ = [
    "CHANNELS",
    "OUTCOMES",
    "Event",
    "Summary",
    "events_from_scan",
    "record_events",
    "summarise",
]

CHANNELS = ("p2p", "darknet", "social_media", "web", "device", "upload", "isp_block")
OUTCOMES = ("known", "new", "blocked")


@dataclass(frozen=True)
class Event:
    channel: str
    outcome: str
    category: str | None = None
    series: str | None = None
    victim_identified: bool = False
    region: str | None = None
    count: int = 1
    at: str | None = None


def record_events(bank: BankStore, events: Iterable[Event], *, actor: str = "cli") -> int:
    """Store events in one transaction; returns how many."""
    rows = []
    for e in events:
        if e.channel not in CHANNELS:
            raise UsageError(f"unknown channel {e.channel!r} (one of {', '.join(CHANNELS)})")
        if e.outcome not in OUTCOMES:
            raise UsageError(f"unknown outcome {e.outcome!r}")
        rows.append(
            (
                e.at or utc_now(),
                e.channel,
                e.outcome,
                e.category,
                e.series,
                int(e.victim_identified),
                e.region,
                e.count,
            )
        )
    if not rows:
        return 0
    return bank.events.add(rows, actor=actor)


@dataclass
class Summary:
    start: date
    end: date
    by_channel: Counter[str]
    by_category: Counter[str]
    by_month: dict[str, Counter[str]]
    by_outcome: Counter[str]
    by_region: Counter[str]
    series: Counter[str]
    victims_identified: int
    blocked_by_month: Counter[str]

    @property
    def detections(self) -> int:
        return self.by_outcome["known"] + self.by_outcome["new"]


def summarise(bank: BankStore, start: date, end: date) -> Summary:
    """Count the events from `start` to `end` (both days included)."""
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    rows = bank.events.between(start.isoformat(), f"{end.isoformat()}T99")
    summary = Summary(
        start, end, Counter(), Counter(), {}, Counter(), Counter(), Counter(), 0, Counter()
    )
    for at, channel, outcome, category, series, victim, region, count in rows:
        month = str(at)[:7]
        summary.by_outcome[outcome] += count
        if outcome == "blocked":
            summary.blocked_by_month[month] += count
            continue
        summary.by_channel[channel] += count
        summary.by_month.setdefault(month, Counter())[outcome] += count
        if region:
            summary.by_region[region] += count
        if outcome == "known":
            summary.by_category[category or "uncategorised"] += count
            if series:
                summary.series[series] += count
            summary.victims_identified += count if victim else 0
    return summary


def events_from_scan(result: ScanResult, *, channel: str, region: str | None) -> list[Event]:
    """One `known` event per matched file (its best match); unknown images as one `new` event."""
    events = [
        Event(channel, "known", m.category, m.series, m.victim_identified, region)
        for f in result.files
        if f.status == "matched"
        for m in f.matches[:1]
    ]
    new = sum(1 for f in result.files if f.status == "unknown" and f.pdq)
    if new:
        events.append(Event(channel, "new", region=region, count=new))
    return events
