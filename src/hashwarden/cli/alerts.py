"""`hashwarden alerts`: the endpoint agents' alerts and the agents themselves, read from the
bank the match service keeps them in."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import BankArg, open_bank_first
from hashwarden.errors import UsageError

alerts_app = new_typer("Alerts raised by endpoint agents (`hashwarden watch`), and the agents.")

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object a line.")]


def _time(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    from hashwarden._time import parse_utc, utc_text

    try:
        return utc_text(parse_utc(value))
    except (ValueError, OverflowError):
        raise UsageError(f"{flag} must be an ISO 8601 date or time, not {value!r}") from None


@alerts_app.command("list")
def alerts_list(
    bank: BankArg,
    agent: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only this agent's alerts.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(metavar="STATUS", help="Only alerts open, acknowledged or closed.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="TIME", help="Received at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="TIME", help="Received before (ISO 8601).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="At most this many.")
    ] = 100,
    after: Annotated[
        int, typer.Option(min=0, metavar="ID", help="Only ids above this (paging).")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Alerts oldest first: id, time received, status, host, user, path, category, SHA-256.
    Paths name people's files: show them only to those who handle the alerts."""
    from hashwarden.service.alerts import AlertStore

    with open_bank_first(bank, readonly=True) as store:
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
def alerts_agents(bank: BankArg, as_json: JsonOpt = False) -> None:
    """Every agent that reported: last heartbeat, versions, and SILENT when it stopped."""
    from hashwarden.service.alerts import AlertStore

    with open_bank_first(bank, readonly=True) as store:
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
