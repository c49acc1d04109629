"""`hashwarden serve`: run the match service over HTTP; `hashwarden apikey`: its keys.

Imported only when one of these commands runs (FastAPI is heavy): see cli/__init__.py."""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer

from hashwarden.bank import open_bank
from hashwarden.cli._app import console, err_console, new_typer, notice
from hashwarden.cli._options import BANK_HELP, OldBankOpt, bank_given, parse_listen
from hashwarden.errors import UsageError
from hashwarden.service.keys import ROLES, create_key, list_keys, revoke_key

#: The bank, first (docs/cli.md); optional here only so that the old `--bank` still works.
BankOpt = Annotated[str | None, typer.Argument(metavar="BANK", help=BANK_HELP)]

apikey_app = new_typer("API keys of the match service (stored hashed in the bank).")


def serve_command(
    bank: BankOpt = None,
    listen: Annotated[
        str, typer.Option(metavar="IP:PORT", help="Address to listen on.")
    ] = "127.0.0.1:8000",
    workers: Annotated[int, typer.Option(min=1, max=64, metavar="N", help="Worker processes.")] = 1,
    keyless_role: Annotated[
        str | None,
        typer.Option(
            metavar="ROLE", help="Grant this role to requests without a key (HMA clients; off)."
        ),
    ] = None,
    keep_recent: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Keep the hashes of look-ups this long (e.g. 24h, 7d; off) and fire the rules"
            " when entries added later match them (docs/service.md).",
        ),
    ] = None,
    request_log: Annotated[
        str,
        typer.Option(
            metavar="all|errors",
            help="Log a line for every request, or for refused and failed ones only (4xx, 5xx;"
            " metrics still count every request).",
        ),
    ] = "all",
    old_bank: OldBankOpt = None,
    host: Annotated[str | None, typer.Option(hidden=True)] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, hidden=True)] = None,
) -> None:
    """Serve hashing, matching and bank management.

    Each worker holds its own index and catches up with the bank before every match, so a
    change made through any worker, or any replica sharing a PostgreSQL bank, counts at once.
    Each connection goes to the worker with the fewest open; workers share rate limits and
    metrics.
    Logs are one JSON line a request (--request-log errors: refused and failed ones only),
    with no client address; the access log is off. Limits
    come from HASHWARDEN_* variables (docs/service.md), checked here: a wrong one exits 2."""
    from hashwarden.service.server import serve
    from hashwarden.service.settings import ServiceSettings

    bank = bank_given("serve", bank, old_bank, "--listen IP:PORT")
    if host is not None or port is not None:
        notice("`--host`/`--port` are the old spelling: write `--listen IP:PORT`")
        default_host, default_port = parse_listen(listen, default_port=8000)
        host, port = host or default_host, port or default_port
    else:
        host, port = parse_listen(listen, default_port=8000)
    if keyless_role is not None and keyless_role not in ROLES:
        raise UsageError(f"--keyless-role must be one of {', '.join(ROLES)}")
    if keyless_role is not None:
        os.environ["HASHWARDEN_KEYLESS_ROLE"] = keyless_role
    os.environ["HASHWARDEN_REQUEST_LOG"] = request_log
    if keep_recent is not None:
        os.environ["HASHWARDEN_KEEP_RECENT_S"] = str(parse_duration(keep_recent, "--keep-recent"))
    ServiceSettings.from_env()  # each worker reads them again; a wrong one stops us here
    store = open_bank(bank)  # fail early, with a clear message, on a wrong bank
    location = store.location
    store.close()
    os.environ["HASHWARDEN_BANK"] = bank
    err_console.print(f"serving {location} on http://{host}:{port} with {workers} worker(s)")
    serve(host, port, workers)


_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, flag: str) -> int:
    """Seconds from `3600`, `90s`, `15m`, `24h` or `7d`."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if found is None or int(found.group(1)) < 1:
        raise UsageError(f"{flag} must be a duration such as 3600, 15m, 24h or 7d")
    return int(found.group(1)) * _SECONDS[found.group(2)]


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(metavar="ROLE", help=f"One of: {', '.join(ROLES)}.")],
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Who holds the key; named in the audit log.")
    ],
    bank: BankOpt = None,
    rate: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Requests a minute this key may make.")
    ] = None,
    old_bank: OldBankOpt = None,
) -> None:
    """Create a key; it is printed once, alone on the last line (only its hash is kept)."""
    store = open_bank(bank_given("apikey create", bank, old_bank, "--role ROLE --name NAME"))
    try:
        token = create_key(store, name, role, rate_per_minute=rate)
    finally:
        store.close()
    err_console.print(f"key {name!r} with role {role}; store it now, it is not shown again:")
    print(token)


@apikey_app.command("list")
def apikey_list(bank: BankOpt = None, old_bank: OldBankOpt = None) -> None:
    """Keys by name, role, rate and state (never the keys themselves)."""
    store = open_bank(bank_given("apikey list", bank, old_bank, ""))
    try:
        for key in list_keys(store):
            state = f"revoked {key.revoked}" if key.revoked else "live"
            rate = f"{key.rate_per_minute}/min" if key.rate_per_minute else "no rate limit"
            console.print(f"{key.name}  {key.role}  {rate}  created {key.created}  {state}")
    finally:
        store.close()


@apikey_app.command("revoke")
def apikey_revoke(
    name: Annotated[str, typer.Option(metavar="NAME", help="The key's name.")],
    bank: BankOpt = None,
    old_bank: OldBankOpt = None,
) -> None:
    """Revoke a key; every worker refuses it within 5 seconds."""
    store = open_bank(bank_given("apikey revoke", bank, old_bank, "--name NAME"))
    try:
        revoke_key(store, name)
    finally:
        store.close()
    console.print(f"revoked {name}")
