"""Prometheus metrics of the service.

One worker keeps its metrics in its own memory. The workers of `hashwarden serve --workers N`
use prometheus_client's multiprocess mode instead (`serve` points PROMETHEUS_MULTIPROC_DIR at
a private directory it makes and removes): each writes its values to files there, and
`/metrics` from any worker shows the node's totals. Replicas (other nodes) are scraped each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["Metrics"]

_AGE = "hashwarden_index_age_seconds"
_AGE_HELP = "Seconds since the index last caught up with the bank"
#: In multiprocess mode: when each live worker's index last caught up (the oldest is shown
#: as the age above).
_CAUGHT_UP = "hashwarden_index_caught_up_unixtime"


class Metrics:
    """Request counts and latencies by route template and status, matches, index size, skipped
    image matching, refused decodes and queued actions. Labels never carry content, keys'
    secrets or client addresses."""

    def __init__(self) -> None:
        #: The workers of a node share their metrics (prometheus_client chose at import).
        self.shared = bool(getattr(values.ValueClass, "_multiprocess", False))
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "hashwarden_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "hashwarden_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.matches = Counter(
            "hashwarden_matches", "Matches returned (after named-bank rules)", registry=registry
        )
        self.pdq_hashes = Gauge(
            "hashwarden_index_pdq_hashes",
            "PDQ hashes in the index",
            registry=registry,
            multiprocess_mode="livemax",
        )
        #: Single process: the age, set when rendered; shared: each worker's catch-up time.
        self._age = (
            Gauge(_CAUGHT_UP, _AGE_HELP, registry=registry, multiprocess_mode="livemin")
            if self.shared
            else Gauge(_AGE, _AGE_HELP, registry=registry)
        )
        self._caught_up = 0.0
        self._age_written = 0.0
        self._size = -1
        self.undecodable = Counter(
            "hashwarden_undecodable_uploads",
            "Uploads whose image matching was skipped, by reason: corrupt (a decoder failed),"
            " over_limit (over the pixel or size cap, refused with 413), not_an_image",
            ["reason"],
            registry=registry,
        )
        self.decodes_refused = Counter(
            "hashwarden_decodes_refused",
            "Uploads refused with 503 because every decode slot and queue place was taken",
            registry=registry,
        )
        self.actions_pending = Gauge(
            "hashwarden_actions_pending",
            "Match actions answered but not yet written to the bank (its write lock was held)",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.actions_lost = Counter(
            "hashwarden_actions_lost",
            "Match actions never written, by why: queue_full, failed, stopped",
            ["why"],
            registry=registry,
        )
        self._route_labels: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        labelled = self._route_labels.get((method, route, status))
        if labelled is None:
            labelled = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            if len(self._route_labels) < 10_000:  # routes x methods x statuses: few
                self._route_labels[(method, route, status)] = labelled
        labelled[0].inc()
        labelled[1].observe(seconds)

    def matched(self, count: int) -> None:
        if count:
            self.matches.inc(count)

    def index(self, pdq_hashes: int, caught_up: float) -> None:
        """The index's size, and when (Unix time) it was last known to be current; shared
        with the other workers at most once a second."""
        self._caught_up = caught_up
        if pdq_hashes != self._size:
            self.pdq_hashes.set(pdq_hashes)
            self._size = pdq_hashes
        if self.shared and caught_up - self._age_written >= 1.0:
            self._age.set(caught_up)
            self._age_written = caught_up

    def render(self) -> tuple[bytes, str]:
        if not self.shared:
            self._age.set(max(0.0, time.time() - self._caught_up))
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        registry.register(_NodeCollector())
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _NodeCollector:
    """Every worker's metrics from the multiprocess files, with the index age derived from the
    oldest catch-up time of the live workers."""

    def collect(self) -> Iterator[Metric]:
        for family in MultiProcessCollector(None).collect():
            if family.name != _CAUGHT_UP:
                yield family
            elif family.samples:
                oldest = min(sample.value for sample in family.samples)
                yield GaugeMetricFamily(_AGE, _AGE_HELP, value=max(0.0, time.time() - oldest))
