"""Endpoint agents (`hashwarden watch`, keys of the `agent` role: post alerts and heartbeats,
nothing else) and the reviewers who read and decide their alerts (see `service.alerts`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from hashwarden.service.alerts import (
    AgentOut,
    AlertIn,
    AlertOut,
    AlertStatus,
    AlertStore,
    AlertStored,
    DecisionIn,
    HeartbeatIn,
    When,
    bank_matches,
    device_event,
    stamp,
)
from hashwarden.service.auth import AlertKey, ReviewKey
from hashwarden.service.http_errors import CheckedBodyRoute
from hashwarden.service.keys import ApiKey
from hashwarden.service.state import ServiceState, StateDep

__all__ = ["router"]

Id = Annotated[int, PathParam(ge=1, le=2**62)]

# The library checks what the routes are given beyond pydantic's checks: its UsageError is 422.
router = APIRouter(tags=["alerts"], route_class=CheckedBodyRoute)


def _central_entries(state: ServiceState, alert: AlertIn) -> dict[tuple[str, str], int]:
    """This bank's entries holding the banked hashes the agent matched."""
    found: dict[tuple[str, str], int] = {}
    with state.reading() as bank:
        for m in alert.matches:
            if m.value and (m.kind, m.value) not in found:
                owner = bank.entries.lookup(m.kind, [m.value]).get(m.value)
                if owner is not None:
                    found[(m.kind, m.value)] = owner
    return found


@router.post("/v1/alerts", response_model=AlertStored, status_code=201)
def post_alert(body: AlertIn, response: Response, state: StateDep, key: AlertKey) -> AlertStored:
    """Store an agent's alert (201), or answer 200 with the stored one when its idempotency
    key was stored before; a new alert runs the action rules and counts in the statistics
    (channel `device`)."""
    central = _central_entries(state, body)
    with state.locked() as bank:
        alert, new = AlertStore(bank).add(body, key_name=key.name, central=central)
        if new:
            bank.events.add([device_event(alert)], actor=key.name)
    if not new:
        response.status_code = 200
        return AlertStored(id=alert.id, duplicate=True)
    with state.reading():
        members = state.match_banks.memberships(
            sorted({int(m["central_entry"]) for m in alert.matches if m["central_entry"]})
        )
    user = alert.user or "unknown user"
    state.actions.record(
        bank_matches(alert, members),
        alert.hashes,
        uploader_ref=f"alert {alert.id}: {user}@{alert.host}",
        incident_time=body.detected,
    )
    return AlertStored(id=alert.id, duplicate=False)


@router.post("/v1/agents/heartbeat", status_code=204)
def heartbeat(body: HeartbeatIn, state: StateDep, key: AlertKey) -> Response:
    """An agent says it is alive, its versions and what it is doing."""
    with state.locked() as bank:
        AlertStore(bank).heartbeat(body, key_name=key.name)
    return Response(status_code=204)


@router.get("/v1/agents", response_model=list[AgentOut])
def list_agents(
    state: StateDep,
    key: ReviewKey,
    silent: Annotated[bool | None, Query(description="Only silent (or only live) agents")] = None,
) -> list[AgentOut]:
    """Every agent that reported: its last heartbeat, versions, and whether it went silent
    (no heartbeat for three of its intervals)."""
    with state.reading() as bank:
        agents = AlertStore(bank).agents()
    return [a for a in agents if silent is None or a.silent == silent]


@router.get("/v1/alerts", response_model=list[AlertOut])
def list_alerts(
    state: StateDep,
    key: ReviewKey,
    agent: Annotated[str | None, Query(max_length=200)] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    status: AlertStatus | None = None,
    since: When | None = None,
    until: When | None = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="The last id seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:
    """Alerts oldest first: by agent, host, status, and time received (`since` included,
    `until` not); page with `after`."""
    with state.reading() as bank:
        return AlertStore(bank).find(
            agent=agent,
            host=host,
            status=status,
            since=None if since is None else stamp(since),
            until=None if until is None else stamp(until),
            after=after,
            limit=limit,
        )


@router.get("/v1/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: Id, state: StateDep, key: ReviewKey) -> AlertOut:
    with state.reading() as bank:
        return AlertStore(bank).get(alert_id)


def _decide(
    state: ServiceState,
    alert_id: int,
    decision: Literal["acknowledged", "closed"],
    body: DecisionIn | None,
    key: ApiKey,
) -> AlertOut:
    with state.locked() as bank:
        return AlertStore(bank).decide(
            alert_id, decision, who=key.name, note=body.note if body else None
        )


@router.post("/v1/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(
    alert_id: Id, state: StateDep, key: ReviewKey, body: DecisionIn | None = None
) -> AlertOut:
    """Someone is looking into it (409 unless open); kept with the key's name."""
    return _decide(state, alert_id, "acknowledged", body, key)


@router.post("/v1/alerts/{alert_id}/close", response_model=AlertOut)
def close(
    alert_id: Id, state: StateDep, key: ReviewKey, body: DecisionIn | None = None
) -> AlertOut:
    """Done with it, with a note of what was done (409 if closed already)."""
    return _decide(state, alert_id, "closed", body, key)
