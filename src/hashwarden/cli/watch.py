"""`hashwarden watch`: the endpoint agent, and `watch --status`: what it is doing."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.cli._app import console, err_console
from hashwarden.cli._options import check_paths
from hashwarden.errors import EXIT_FAILURE, NotFoundError, UsageError


def watch_command(
    bank_and_paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[BANK PATH...]",
            help="The local bank (a file, kept current by sync), then the folders (or files) "
            "to watch and sweep; either may come from --config instead.",
            show_default=False,
        ),
    ] = None,
    report_to: Annotated[
        str | None, typer.Option(metavar="URL", help="The match service's URL, where alerts go.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY", help="An API key of the agent role (better: --key-file, key_file)."
        ),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="A file holding the API key.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="The state folder: seen files, outbox, checkpoint."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="A TOML file of settings (flags win)."),
    ] = None,
    sweep_every: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Sweep all paths this often (e.g. 12h; default 1d)."),
    ] = None,
    max_cpu: Annotated[
        float | None,
        typer.Option(metavar="PERCENT", help="Percent of one core to use at most (default 20)."),
    ] = None,
    sync_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Pull the bank's signed bundles from here.")
    ] = None,
    sync_key: Annotated[
        Path | None,
        typer.Option(metavar="NAME.pub", help="The public key the bundles must be signed by."),
    ] = None,
    sync_every: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Pull this often (default 1h).")
    ] = None,
    agent_id: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="This agent's name at the service (default: host)."),
    ] = None,
    status: Annotated[
        bool, typer.Option("--status", help="Say what the agent of --state is doing, and exit.")
    ] = False,
) -> None:
    """Watch folders for files that match the local bank and alert the match service.

    Files created, written, moved in or unpacked are hashed once complete, archives looked
    into as `scan` does; everything is swept at start and every --sweep-every; media mounted
    under /media, /run/media or /mnt are swept when they appear. Only hashes and metadata are
    sent, never a file. Runs until SIGTERM or SIGINT. See docs/agent.md."""
    if status:
        show_status(state or _config_state(config))
        return
    import logging

    from hashwarden.agent import Agent, load_config

    given = list(bank_and_paths or [])
    flags: dict[str, Any] = {
        "bank": given[0] if given else None,
        "paths": given[1:],
        "report_to": report_to,
        "key": key,
        "key_file": key_file,
        "state": state,
        "sweep_every": sweep_every,
        "max_cpu": max_cpu,
        "sync_url": sync_url,
        "sync_key": sync_key,
        "sync_every": sync_every,
        "agent_id": agent_id,
    }
    settings = load_config(config, flags)
    check_paths([settings.bank, *settings.paths])  # exit 4 naming the first missing one
    err_console.print(f"watching {len(settings.paths)} path(s); state in {settings.state}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    Agent(settings).run()


def _config_state(config: Path | None) -> Path:
    if config is None:
        raise UsageError("--status needs --state DIR (or --config FILE naming it)")
    from hashwarden.agent.config import state_folder

    return state_folder(config)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def show_status(folder: Path) -> None:
    """Print the agent's status file; exit 1 when the agent is not running."""
    from hashwarden.agent import read_status

    found = read_status(folder)
    if found is None:
        raise NotFoundError(f"no agent status in {folder} (has an agent run with this --state?)")
    age = time.time() - float(found.get("updated", 0))
    stale = age > max(3 * float(found.get("status_every", 5)), 30)
    running = found.get("activity") != "stopped" and _alive(int(found.get("pid", 0))) and not stale
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(found.get("updated", 0))))
    files, sweep, outbox = found.get("files", {}), found.get("sweep", {}), found.get("outbox", {})
    bank, beat = found.get("bank", {}), found.get("heartbeat", {})
    lines = [
        f"agent {found.get('agent')} (pid {found.get('pid')}): "
        + (found.get("activity", "?") if running else f"not running (last status {when})"),
        f"watching: {', '.join(found.get('watching', []))}",
        f"media: {', '.join(found.get('media', [])) or 'none'}",
        f"files: {files.get('hashed', 0)} hashed, {files.get('unchanged', 0)} unchanged,"
        f" {found.get('pending', 0)} waiting to settle",
        f"sweep {sweep.get('number', 0)}: "
        + (
            f"running, {sweep.get('files', 0)} files so far"
            if sweep.get("running")
            else f"next in {sweep.get('next_in_s', 0):.0f} s"
        ),
        f"alerts: {files.get('alerts', 0)} raised, {outbox.get('pending', 0)} waiting to be sent,"
        f" {outbox.get('delivered', 0)} delivered, {outbox.get('rejected', 0)} refused"
        + (f" (last error: {outbox['last_error']})" if outbox.get("last_error") else ""),
        f"bank: {bank.get('version') or '?'}"
        + (f"; last sync failed: {bank['last_error']}" if bank.get("last_error") else ""),
        "heartbeat: " + (f"failing: {beat['last_error']}" if beat.get("last_error") else "ok"),
        f"priority: {', '.join(found.get('priority', [])) or 'unchanged'};"
        f" CPU budget {found.get('max_cpu')}% of a core, waited {found.get('cpu_waited_s', 0)} s",
    ]
    for line in lines:
        console.print(line, markup=False)
    if not running:
        raise typer.Exit(EXIT_FAILURE)
