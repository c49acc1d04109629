"""Prometheus metrics of one service worker (each worker has its own; scrape each, or sum)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["Metrics"]


class Metrics:
    """Request counts and latencies by route template and status, matches, index size, skipped
    image matching, refused decodes and queued actions. Labels never carry content, keys'
    secrets or client addresses."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hashwarden_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hashwarden_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.matches = Counter(
            "hashwarden_matches",
            "Matches returned (after named-bank rules)",
            registry=self.registry,
        )
        self.pdq_hashes = Gauge(
            "hashwarden_index_pdq_hashes", "PDQ hashes in the index", registry=self.registry
        )
        self.index_age = Gauge(
            "hashwarden_index_age_seconds",
            "Seconds since the index last caught up with the bank",
            registry=self.registry,
        )

        self.undecodable = Counter(
            "hashwarden_undecodable_uploads",
            "Uploads whose image matching was skipped, by reason: corrupt (a decoder failed),"
            " over_limit (over the pixel or size cap, refused with 413), not_an_image",
            ["reason"],
            registry=self.registry,
        )
        self.decodes_refused = Counter(
            "hashwarden_decodes_refused",
            "Uploads refused with 503 because every decode slot and queue place was taken",
            registry=self.registry,
        )
        self.actions_pending = Gauge(
            "hashwarden_actions_pending",
            "Match actions answered but not yet written to the bank (its write lock was held)",
            registry=self.registry,
        )
        self.actions_lost = Counter(
            "hashwarden_actions_lost",
            "Match actions never written, by why: queue_full, failed, stopped",
            ["why"],
            registry=self.registry,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def matched(self, count: int) -> None:
        self.matches.inc(count)

    def index_size(self, pdq_hashes: int, age_s: float) -> None:
        self.pdq_hashes.set(pdq_hashes)
        self.index_age.set(age_s)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
