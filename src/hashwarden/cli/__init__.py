"""The `hashwarden` command: a thin layer that parses, calls the library and renders."""

from __future__ import annotations

from hashwarden.cli import bank as bank_commands
from hashwarden.cli import blocklist as blocklist_commands
from hashwarden.cli import index as index_commands
from hashwarden.cli import p2p as p2p_commands
from hashwarden.cli import trust as trust_commands
from hashwarden.cli._app import new_typer
from hashwarden.cli.alerts import alerts_app
from hashwarden.cli.hashing import hash_command, match_command
from hashwarden.cli.report import report_command
from hashwarden.cli.scan import demo_command, scan_command
from hashwarden.cli.service import apikey_app, serve_command
from hashwarden.cli.watch import watch_command

__all__ = ["app", "main"]

app = new_typer("Find, block and report known CSAM by its fingerprints.")
app.add_typer(bank_commands.app, name="bank")
app.add_typer(index_commands.app, name="index")
app.add_typer(p2p_commands.app, name="p2p")
app.add_typer(blocklist_commands.app, name="blocklist")
app.command("stoppage")(blocklist_commands.stoppage_command)
app.add_typer(trust_commands.keys_app, name="keys")
app.add_typer(trust_commands.bundle_app, name="bundle")
app.add_typer(trust_commands.sync_app, name="sync")
app.command("hash")(hash_command)
app.command("match")(match_command)
app.command("scan")(scan_command)
app.command("demo")(demo_command)
app.command("report")(report_command)
app.command("serve")(serve_command)
app.add_typer(apikey_app, name="apikey")
app.add_typer(alerts_app, name="alerts")
app.command("watch")(watch_command)


def main() -> None:
    app()
