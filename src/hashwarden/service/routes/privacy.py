"""Near-match privacy for admins: the keys suspended for probing an entry's match threshold,
and lifting a suspension (see `service.privacy`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hashwarden.service.auth import AdminKey
from hashwarden.service.privacy import Suspension
from hashwarden.service.state import StateDep

__all__ = ["router"]

router = APIRouter(tags=["matching"])


@router.get("/v1/match/suspensions", response_model=list[Suspension])
def list_suspensions(state: StateDep, key: AdminKey) -> list[Suspension]:
    """Keys suspended for probing an entry's match threshold: until when, and their
    strikes (each suspension lasts twice the one before, until an admin lifts it)."""
    with state.lock:
        return state.privacy.suspensions()


@router.delete("/v1/match/suspensions/{key_name}", status_code=204)
def lift_suspension(key_name: str, state: StateDep, key: AdminKey) -> Response:
    """Lift a key's suspension now and forget its strikes (audited); 404 if it has none."""
    with state.lock:
        state.privacy.lift(key_name, actor=key.name)
    return Response(status_code=204)
