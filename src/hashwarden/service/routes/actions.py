"""HTTP routes for action rules, the report queue and the webhook outbox.

Authorisation is the caller's: `require(role)` returns the FastAPI dependency that admits that
role. If the dependency returns the caller's identity (a string, or an object with a `name`),
that name is kept as the reviewer and in the audit log. The engine's errors are answered by
the app's error handlers (`http_errors`): a rule or review the library refuses is 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from hashwarden.service.actions import ActionEngine, Delivery, NewRule, Report, Rule
from hashwarden.service.http_errors import CheckedBodyRoute

__all__ = ["ReviewIn", "RuleCreated", "RuleIn", "RulePatch", "actions_router"]

#: Ids as the bank stores them (a larger number is 422, never a database overflow).
Id = Annotated[int, PathParam(ge=1, le=2**62)]
After = Annotated[int, Query(ge=0, le=2**62, description="The last id seen (paging)")]


class RuleIn(BaseModel):
    """A rule: which matches (null = any) set off which actions (a webhook, a report draft)."""

    name: str = Field(min_length=1, max_length=100)
    bank: str | None = Field(default=None, max_length=100)
    categories: list[str] | None = Field(
        default=None, min_length=1, description="Category names, Project VIC numbers or A/B/C."
    )
    max_distance: int | None = Field(default=None, ge=0, le=256)
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="An http(s) URL with a public address, or one HASHWARDEN_WEBHOOK_ALLOW"
        " lists; credentials in it are never shown again (listings show `***`).",
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC key for the signature; generated and returned once if not given.",
    )
    report: bool = False
    enabled: bool = True


class RuleCreated(BaseModel):
    rule: Rule
    webhook_secret: str | None = Field(description="Shown only now; store it to verify calls.")


class RulePatch(BaseModel):
    enabled: bool


class ReviewIn(BaseModel):
    reviewer: str | None = Field(
        default=None,
        max_length=200,
        description="Who decided; taken from the API key when the service knows it.",
    )
    note: str | None = Field(default=None, max_length=2000)


def _name(principal: Any) -> str | None:
    if isinstance(principal, str):
        return principal
    name = getattr(principal, "name", None)
    return name if isinstance(name, str) else None


def actions_router(engine: ActionEngine, require: Callable[[str], Any]) -> APIRouter:
    """Routes for rules (admin), report drafts (reviewer) and deliveries (admin)."""
    router = APIRouter(tags=["actions"], route_class=CheckedBodyRoute)
    as_admin = Depends(require("admin"))
    as_reviewer = Depends(require("reviewer"))

    @router.get("/v1/actions/rules", response_model=list[Rule])
    def list_rules(principal: Any = as_admin) -> list[Rule]:
        return engine.rules()

    @router.post("/v1/actions/rules", response_model=RuleCreated, status_code=201)
    def add_rule(body: RuleIn, principal: Any = as_admin) -> RuleCreated:
        """Add a rule; the answer carries the webhook secret, which is never shown again."""
        new = NewRule(
            name=body.name,
            bank=body.bank,
            categories=body.categories,
            max_distance=body.max_distance,
            webhook_url=body.webhook_url,
            webhook_secret=body.webhook_secret,
            report=body.report,
            enabled=body.enabled,
        )
        rule, secret = engine.add_rule(new, actor=_name(principal) or "api")
        return RuleCreated(rule=rule, webhook_secret=secret)

    @router.get("/v1/actions/rules/{rule_id}", response_model=Rule)
    def get_rule(rule_id: Id, principal: Any = as_admin) -> Rule:
        return engine.rule(rule_id)

    @router.patch("/v1/actions/rules/{rule_id}", response_model=Rule)
    def update_rule(rule_id: Id, body: RulePatch, principal: Any = as_admin) -> Rule:
        """Turn a rule on or off (its webhook secret is kept)."""
        return engine.set_enabled(rule_id, body.enabled, actor=_name(principal) or "api")

    @router.delete("/v1/actions/rules/{rule_id}", response_model=Rule)
    def remove_rule(rule_id: Id, principal: Any = as_admin) -> Rule:
        """Delete a rule; its undelivered webhooks are marked failed."""
        return engine.remove_rule(rule_id, actor=_name(principal) or "api")

    @router.get("/v1/actions/deliveries", response_model=list[Delivery])
    def list_deliveries(
        status: Literal["pending", "delivered", "failed"] | None = None,
        after: After = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        principal: Any = as_admin,
    ) -> list[Delivery]:
        """The webhook outbox: attempts, next attempt and last error of each delivery."""
        return engine.deliveries(status=status, after=after, limit=limit)

    @router.post("/v1/actions/deliveries/{delivery_id}/retry", response_model=Delivery)
    def retry_delivery(delivery_id: Id, principal: Any = as_admin) -> Delivery:
        """Send a failed delivery again, from a fresh attempt count (409 unless failed)."""
        return engine.retry(delivery_id, actor=_name(principal) or "api")

    @router.get("/v1/reports", response_model=list[Report])
    def list_reports(
        status: Literal["pending", "confirmed", "rejected"] | None = None,
        after: After = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        principal: Any = as_reviewer,
    ) -> list[Report]:
        """Report drafts, oldest first; page with `after` = the last id seen."""
        return engine.reports(status=status, after=after, limit=limit)

    @router.get("/v1/reports/{report_id}", response_model=Report)
    def get_report(report_id: Id, principal: Any = as_reviewer) -> Report:
        return engine.report(report_id)

    def review(
        report_id: Id,
        decision: Literal["confirmed", "rejected"],
        body: ReviewIn | None,
        principal: Any,
    ) -> Report:
        who = _name(principal) or (body.reviewer if body else None)
        if not who or not who.strip():
            raise HTTPException(422, "a review needs the reviewer's name")
        return engine.review(report_id, decision, reviewer=who, note=body.note if body else None)

    @router.post("/v1/reports/{report_id}/confirm", response_model=Report)
    def confirm_report(
        report_id: Id, body: ReviewIn | None = None, principal: Any = as_reviewer
    ) -> Report:
        """Confirm a pending draft: it is to be sent to the authorities (409 if decided)."""
        return review(report_id, "confirmed", body, principal)

    @router.post("/v1/reports/{report_id}/reject", response_model=Report)
    def reject_report(
        report_id: Id, body: ReviewIn | None = None, principal: Any = as_reviewer
    ) -> Report:
        """Reject a pending draft (409 if already decided)."""
        return review(report_id, "rejected", body, principal)

    return router
