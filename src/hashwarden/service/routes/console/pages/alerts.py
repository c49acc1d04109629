"""The endpoint agents' alerts (by status; Acknowledge, Close with a note) and the agents'
health (last heartbeat, versions, silent or not). Through `AlertStore`, as the API's alert
routes, audited under the key's name. An alert names a file and its hashes, never shows it."""

from __future__ import annotations

from fastapi.responses import Response

from hashwarden.service.alerts import STATUSES, AlertStore
from hashwarden.service.routes.console.web import PREFIX, Refused, Site, Visit

__all__ = ["routes"]

#: Alerts on one page.
PAGE = 50


def _alert_id(v: Visit) -> int:
    text = v.param("alert_id")
    if not text.isdigit() or len(text) > 18:
        raise Refused(404, f"There is no alert {text!r}.")
    return int(text)


def routes(site: Site) -> None:
    @site.page("/alerts", "review")
    def alerts(v: Visit) -> Response:
        status = v.query("status", "open")
        if status not in STATUSES:
            raise Refused(422, f"An alert is {', '.join(STATUSES)}, not {status!r}.")
        after = v.after()
        with v.state.reading() as bank:
            found = AlertStore(bank).find(status=status, after=after, limit=PAGE)
        more = f"status={status}&after={found[-1].id}" if len(found) == PAGE else None
        return v.render(
            "alerts.html",
            title="Alerts",
            alerts=found,
            shown=status,
            statuses=STATUSES,
            more=more,
            first=after > 0,
        )

    @site.page("/alerts/{alert_id}", "review")
    def show(v: Visit) -> Response:
        with v.state.reading() as bank:
            alert = AlertStore(bank).get(_alert_id(v))
        return v.render("alert.html", title=f"Alert {alert.id}", alert=alert)

    def decide(v: Visit, decision: str, said: str) -> Response:
        alert_id = _alert_id(v)
        with v.locked() as bank:
            AlertStore(bank).decide(
                alert_id,
                decision,  # type: ignore[arg-type]
                who=v.key.name,
                note=v.form.optional("note"),
            )
        return v.done(f"{PREFIX}/alerts/{alert_id}", f"Alert {alert_id} {said}.")

    @site.page("/alerts/{alert_id}/acknowledge", "review", post=True)
    def acknowledge(v: Visit) -> Response:
        return decide(v, "acknowledged", "acknowledged")

    @site.page("/alerts/{alert_id}/close", "review", post=True)
    def close(v: Visit) -> Response:
        return decide(v, "closed", "closed")

    @site.page("/agents", "review")
    def agents(v: Visit) -> Response:
        with v.state.reading() as bank:
            found = AlertStore(bank).agents()
        return v.render("agents.html", title="Agents", agents=found)
