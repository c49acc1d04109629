"""The `hashwarden` command: a thin layer that parses, calls the library and renders.

Each command group lives in the module named after it (`hashwarden bank` in `cli/bank.py`) and
is imported only when it runs: `hashwarden --help`, `--version` and every command load nothing
the command does not use (no matplotlib, FastAPI, numpy or Pillow for a `keys list`). The
conventions every command follows are in docs/cli.md.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Annotated, Any

import typer
from typer.main import get_command, get_group

from hashwarden.cli._app import Group, new_typer, notice, quiet_closed_stdout
from hashwarden.errors import EXIT_CLOSED_PIPE

__all__ = ["COMMANDS", "Listed", "app", "load", "main"]


@dataclass(frozen=True)
class Listed:
    """A top-level command or group as `hashwarden --help` lists it, before it is imported."""

    name: str
    #: The module under hashwarden.cli, and the Typer app or command function in it.
    module: str
    attribute: str
    panel: str
    summary: str
    #: An old spelling kept working: run `replaced_by` with a notice, and hide this one.
    replaced_by: str | None = None


BANKS = "Banks"
MATCHING = "Hashing, matching and scanning"
REPORTS = "Reports and the demo"
EXCHANGE = "Sharing between banks"
SERVICE = "The match service"
BLOCKING = "URL blocking for ISPs"
AGENTS = "Endpoint agents"

#: Every top-level command, in the order and under the headings of `hashwarden --help` and
#: docs/cli.md. The summary is the command's own first help line (a test keeps them equal).
COMMANDS = [
    Listed("bank", "bank", "app", BANKS, "Create, fill, search, inspect and verify a hash bank."),
    Listed("index", "index", "app", BANKS, "Build and inspect the indexes saved next to a bank."),
    Listed("hash", "hash", "hash_command", MATCHING, "Print the fingerprints of files."),
    Listed(
        "match",
        "match",
        "match_command",
        MATCHING,
        "Look one hash, or a file's hashes, up in the bank.",
    ),
    Listed(
        "scan",
        "scan",
        "scan_command",
        MATCHING,
        "Triage evidence: matched, known-good, unknown (grouped into series) and errors.",
    ),
    Listed(
        "retro",
        "retro",
        "retro_command",
        MATCHING,
        "Match stored cases against the hashes banked since: new hits per case.",
    ),
    Listed(
        "cases",
        "cases",
        "app",
        MATCHING,
        "The case store: list, show and delete the hashes scans kept per case.",
    ),
    Listed(
        "p2p",
        "p2p",
        "app",
        MATCHING,
        "P2P identifiers: match magnet links, ed2k links and torrents against the bank.",
    ),
    Listed(
        "report",
        "report",
        "report_command",
        REPORTS,
        "Charts and tables of recorded detections by channel, category, time and region.",
    ),
    Listed(
        "demo",
        "demo",
        "demo_command",
        REPORTS,
        "Build a synthetic, benign case and bank, scan it, and print where the report is.",
    ),
    Listed(
        "keys",
        "keys",
        "app",
        EXCHANGE,
        "Signing keys: make a key pair; trust, list and revoke public keys.",
    ),
    Listed("bundle", "bundle", "app", EXCHANGE, "Signed delta bundles between banks."),
    Listed(
        "sync", "sync", "app", EXCHANGE, "Node-to-node sync: publish signed bundles, pull a peer's."
    ),
    Listed(
        "exchange",
        "exchange",
        "app",
        EXCHANGE,
        "Hash-sharing programmes (NCMEC, StopNCII, ThreatExchange, a file): configure, fetch.",
    ),
    Listed(
        "serve", "service", "serve_command", SERVICE, "Serve hashing, matching and bank management."
    ),
    Listed(
        "apikey",
        "service",
        "apikey_app",
        SERVICE,
        "API keys of the match service (stored hashed in the bank).",
    ),
    Listed(
        "blocklist",
        "blocklist",
        "app",
        BLOCKING,
        "Keep the URL block list, export it hashed or as RPZ, check URLs, run the ISP side.",
    ),
    Listed(
        "stoppage",
        "blocklist",
        "app",
        BLOCKING,
        "Serve the stop page blocked visitors see.",
        replaced_by="blocklist stoppage",
    ),
    Listed(
        "watch",
        "watch",
        "watch_command",
        AGENTS,
        "Watch folders for files that match the local bank and alert the match service.",
    ),
    Listed(
        "alerts",
        "alerts",
        "alerts_app",
        AGENTS,
        "Alerts raised by endpoint agents (`hashwarden watch`), and the agents.",
    ),
]
_BY_NAME = {listed.name: listed for listed in COMMANDS}


def load(listed: Listed) -> Any:
    """Import a listed command's module and build its click command."""
    module = importlib.import_module(f"hashwarden.cli.{listed.module}")
    target = getattr(module, listed.attribute)
    if listed.replaced_by is not None:
        return _renamed(get_group(target), listed.name, listed.replaced_by)
    command: Any
    if isinstance(target, typer.Typer):
        command = get_group(target)  # a group even when it holds one command (`p2p match`)
    else:
        single = new_typer(None)
        single.command(listed.name)(target)
        command = get_command(single)
    command.name = listed.name
    return command


def _renamed(group: Any, old: str, new: str) -> Any:
    """The command an old top-level name now lives at, hidden, with a notice when run."""
    command = group.get_command(None, new.split()[-1])
    original = command.callback

    def run(*args: Any, **kwargs: Any) -> Any:
        notice(f"`hashwarden {old}` is now `hashwarden {new}`")
        return original(*args, **kwargs)

    command.callback = run
    command.hidden = True
    return command


class _TopGroup(Group):
    """The `hashwarden` group: lists its commands from COMMANDS and imports one only to run it
    (or show its help)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [listed.name for listed in COMMANDS]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in _BY_NAME:
            self.commands[name] = load(_BY_NAME[name])
        return self.commands.get(name)

    def command_rows(self, ctx: Any, limit: int) -> list[tuple[str | None, str, str]]:
        return [(c.panel, c.name, c.summary) for c in COMMANDS if c.replaced_by is None]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in _BY_NAME and not args[0].startswith("-"):
            near = get_close_matches(args[0], list(_BY_NAME))
            hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            ctx.fail(f"No such command {args[0]!r}.{hint}")
        return super().resolve_command(ctx, args)


def _show_version(value: bool) -> None:
    if value:
        from hashwarden import __version__

        print(f"hashwarden {__version__}")
        raise typer.Exit()


app = new_typer(
    "Find, block and report known CSAM by its fingerprints.", cls=_TopGroup, name="hashwarden"
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options of `hashwarden` itself (the help text is the app's)."""


def main() -> None:
    code: Any = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_closed_stdout()
        code = EXIT_CLOSED_PIPE
    except ValueError:  # closed already, by a writer that broke off on a closed pipe
        pass
    sys.exit(code)
