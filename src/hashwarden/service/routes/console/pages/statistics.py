"""The statistics report's charts for a chosen period, for the roles at work on this node
(reviewer, curator, admin: the `statistics` permission), not outside peers (counts of recorded
events only: no content, hashes or addresses). Charts are inline SVG without
styles or scripts (`reports.charts.statistics_charts`), each beside its numbers as a table,
under the console's Content-Security-Policy. `hashwarden.reports` (and with it matplotlib) is
imported here, lazily, so a service nobody opens this page on never loads it.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

from fastapi.responses import Response

from hashwarden._time import utc_today
from hashwarden.service.routes.console.web import Site, Visit

__all__ = ["routes"]

#: The longest period one page counts (days).
LONGEST = 3660
#: matplotlib's pyplot keeps global state: one chart drawing at a time in this worker.
_DRAWING = threading.Lock()


def _period(v: Visit) -> tuple[date, date, str | None]:
    """The period asked for (default: the last 365 days), or the default and why not."""
    end = date.fromisoformat(utc_today())
    start = end - timedelta(days=365)
    given_from, given_to = v.query("from"), v.query("to")
    try:
        start = date.fromisoformat(given_from) if given_from else start
    except ValueError:
        return start, end, f"From: {given_from!r} is not a date (YYYY-MM-DD)."
    try:
        end = date.fromisoformat(given_to) if given_to else end
    except ValueError:
        return start, end, f"To: {given_to!r} is not a date (YYYY-MM-DD)."
    if end < start:
        return start, end, f"To ({end}) is before From ({start})."
    if (end - start).days > LONGEST:
        return start, end, f"A period is at most {LONGEST} days."
    return start, end, None


def routes(site: Site) -> None:
    @site.page("/statistics", permission="statistics")
    def statistics(v: Visit) -> Response:
        start, end, wrong = _period(v)
        if wrong is not None:
            return v.render(
                "statistics.html",
                status=422,
                title="Statistics",
                start=v.query("from"),
                end=v.query("to"),
                wrong=wrong,
                summary=None,
                charts=[],
            )
        from hashwarden.reports.charts import statistics_charts
        from hashwarden.reports.statistics import summarise

        with v.locked() as bank:
            summary = summarise(bank, start, end)
        with _DRAWING:
            charts = statistics_charts(summary)
        return v.render(
            "statistics.html",
            title="Statistics",
            start=start.isoformat(),
            end=end.isoformat(),
            wrong=None,
            summary=summary,
            charts=charts,
        )
