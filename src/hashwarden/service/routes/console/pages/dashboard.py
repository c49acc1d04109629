"""The dashboard: counts and the state of the index, each shown to the roles that may see
what it counts, and the bank's recent activity."""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from fastapi.responses import Response

from hashwarden.service.alerts import AlertStore
from hashwarden.service.routes.console.web import Site, Visit

__all__ = ["routes"]

#: Audit events shown as recent activity.
RECENT = 12


def routes(site: Site) -> None:
    @site.page("/")
    def dashboard(v: Visit) -> Response:
        state = v.state
        facts: dict[str, Any] = {
            "pdq_hashes": state.pdq_hashes,
            "index_age_s": round(time.time() - state.refreshed),
        }
        with v.locked() as bank:
            facts["entries"] = bank.entries.count()
            if v.may("statistics"):  # people at work here, not outside peers
                facts["matches_today"] = state.tally.today(bank)
            if v.may("read"):
                facts["by_category"] = bank.entries.count_by_category()
                facts["banks"] = len(state.banks.all())
                head, _ = bank.audit.head()
                recent = list(islice(bank.audit.events(after=max(0, head - RECENT)), RECENT))
                facts["recent"] = recent[::-1]
        if v.may("review"):
            pending = state.engine.reports(status="pending", limit=1000)
            facts["open_reports"] = len(pending)
            with v.state.reading() as bank:
                alerts = AlertStore(bank)
                facts["open_alerts"] = len(alerts.find(status="open", limit=1000))
                facts["silent_agents"] = sum(a.silent for a in alerts.agents())
        return v.render("dashboard.html", title="Dashboard", facts=facts)
