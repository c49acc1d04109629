"""Action rules and the webhook outbox (admin): the rules with an on/off switch, the
deliveries of one status with their last error, Retry for a failed one. Through the action
engine, as the API's action routes; rules are made through the API or the CLI."""

from __future__ import annotations

from fastapi.responses import Response

from hashwarden.service.routes.console.web import PREFIX, Refused, Site, Visit

__all__ = ["routes"]

#: Deliveries on one page.
PAGE = 50
STATUSES = ("failed", "pending", "delivered")


def _id(v: Visit, name: str) -> int:
    text = v.param(name)
    if not text.isdigit() or len(text) > 18:
        raise Refused(404, f"There is nothing numbered {text!r}.")
    return int(text)


def routes(site: Site) -> None:
    @site.page("/rules", "admin")
    def rules(v: Visit) -> Response:
        status = v.query("status", "failed")
        if status not in STATUSES:
            raise Refused(422, f"A delivery is failed, pending or delivered, not {status!r}.")
        after = v.after()
        engine = v.state.engine
        deliveries = engine.deliveries(status=status, after=after, limit=PAGE)  # type: ignore[arg-type]
        more = f"status={status}&after={deliveries[-1].id}" if len(deliveries) == PAGE else None
        return v.render(
            "rules.html",
            title="Rules",
            rules=engine.rules(),
            deliveries=deliveries,
            shown=status,
            statuses=STATUSES,
            more=more,
            first=after > 0,
        )

    @site.page("/rules/{rule_id}", "admin", post=True)
    def switch(v: Visit) -> Response:
        on = v.form.get("enabled") == "1"
        rule = v.state.engine.set_enabled(_id(v, "rule_id"), on, actor=v.key.name)
        return v.done(f"{PREFIX}/rules", f"Rule {rule.name} is {'on' if on else 'off'}.")

    @site.page("/rules/deliveries/{delivery_id}/retry", "admin", post=True)
    def retry(v: Visit) -> Response:
        delivery = v.state.engine.retry(_id(v, "delivery_id"), actor=v.key.name)
        return v.done(f"{PREFIX}/rules?status=pending", f"Delivery {delivery.id} is sent again.")
