"""`hashwarden alerts`: the endpoint agents' alerts and the agents themselves, read from the
bank the match service keeps them in."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.errors import UsageError

alerts_app = new_typer("Alerts raised by endpoint agents (`hashwarden watch`), and the agents.")

BankOpt = Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object a line.")]


def _time(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    from hashwarden.service.alerts import stamp

    try:
        return stamp(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise UsageError(f"{flag} must be an ISO 8601 date or time, not {value!r}") from None


@alerts_app.command("list")
def alerts_list(
    bank: BankOpt,
    agent: Annotated[str | None, typer.Option(help="Only this agent's alerts.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only alerts open, acknowledged or closed.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    after: Annotated[int, typer.Option(min=0, help="Only ids above this (paging).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Alerts oldest first: id, time received, status, host, user, path, category, SHA-256.
    Paths name people's files: show them only to those who handle the alerts."""
    from hashwarden.bank import open_bank
    from hashwarden.service.alerts import AlertStore

    with open_bank(bank, readonly=True) as store:
        found = AlertStore(store).find(
            agent=agent,
            status=status,
            since=_time(since, "--since"),
            until=_time(until, "--until"),
            after=after,
            limit=limit,
        )
    for alert in found:
        if as_json:
            print(alert.model_dump_json(), flush=True)
            continue
        console.print(
            f"{alert.id}  {alert.received}  {alert.status}  {alert.host}  {alert.user or '-'}"
            f"  {alert.path}  {alert.category}  sha256={alert.sha256 or '-'}",
            markup=False,
        )
    if not found and not as_json:
        console.print("no alerts")


@alerts_app.command("agents")
def alerts_agents(bank: BankOpt, as_json: JsonOpt = False) -> None:
    """Every agent that reported: last heartbeat, versions, and SILENT when it stopped."""
    from hashwarden.bank import open_bank
    from hashwarden.service.alerts import AlertStore

    with open_bank(bank, readonly=True) as store:
        agents = AlertStore(store).agents()
    for agent in agents:
        if as_json:
            print(json.dumps(agent.model_dump()), flush=True)
            continue
        state = f"SILENT for {agent.silent_for_s:.0f} s" if agent.silent else "live"
        console.print(
            f"{agent.agent}  {agent.host}  last heartbeat {agent.last_heartbeat}  {state}"
            f"  agent {agent.agent_version or '-'}  bank {agent.bank_version or '-'}",
            markup=False,
        )
    if not agents and not as_json:
        console.print("no agents")
