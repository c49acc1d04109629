"""The report-draft queue: what matched (hashes, categories, distances, the uploader's
reference, times; never an image), Confirm or Reject with a note, and the confirmed reports
as a JSON file. Through the action engine, as the API's report routes."""

from __future__ import annotations

import dataclasses
import json

from fastapi.responses import Response

from hashwarden.service.routes.console.web import PREFIX, Refused, Site, Visit

__all__ = ["routes"]

#: Drafts on one page of the queue.
PAGE = 50
STATUSES = ("pending", "confirmed", "rejected")


def _report_id(v: Visit) -> int:
    text = v.param("report_id")
    if not text.isdigit() or len(text) > 18:
        raise Refused(404, f"There is no report {text!r}.")
    return int(text)


def routes(site: Site) -> None:
    @site.page("/reports", "review")
    def queue(v: Visit) -> Response:
        status = v.query("status", "pending")
        if status not in STATUSES:
            raise Refused(422, f"A report is pending, confirmed or rejected, not {status!r}.")
        after = v.after()
        drafts = v.state.engine.reports(status=status, after=after, limit=PAGE)  # type: ignore[arg-type]
        more = f"status={status}&after={drafts[-1].id}" if len(drafts) == PAGE else None
        return v.render(
            "reports.html",
            title="Reports",
            shown=status,
            statuses=STATUSES,
            drafts=drafts,
            more=more,
            first=after > 0,
        )

    @site.page("/reports/export.json", "review")
    def export(v: Visit) -> Response:
        """The confirmed reports, all of them, as one JSON file to send on."""
        confirmed, after = [], 0
        while page := v.state.engine.reports(status="confirmed", after=after, limit=1000):
            confirmed += [dataclasses.asdict(r) for r in page]
            after = page[-1].id
        return Response(
            json.dumps(confirmed, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="confirmed-reports.json"'},
        )

    @site.page("/reports/{report_id}", "review")
    def show(v: Visit) -> Response:
        draft = v.state.engine.report(_report_id(v))
        return v.render("report.html", title=f"Report {draft.id}", draft=draft)

    def decide(v: Visit, decision: str) -> Response:
        report_id = _report_id(v)
        v.state.engine.review(
            report_id,
            decision,  # type: ignore[arg-type]
            reviewer=v.key.name,
            note=v.form.optional("note"),
        )
        return v.done(f"{PREFIX}/reports", f"Report {report_id} {decision}.")

    @site.page("/reports/{report_id}/confirm", "review", post=True)
    def confirm(v: Visit) -> Response:
        return decide(v, "confirmed")

    @site.page("/reports/{report_id}/reject", "review", post=True)
    def reject(v: Visit) -> Response:
        return decide(v, "rejected")
