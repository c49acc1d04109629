"""`hashwarden exchange ...`: hash-sharing programmes fetched into named banks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import BankArg, JsonOpt, open_bank_first
from hashwarden.errors import UsageError

if TYPE_CHECKING:
    from hashwarden.bank import Bank

app = new_typer(
    "Hash-sharing programmes (NCMEC, StopNCII, ThreatExchange, a file): configure, fetch."
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The exchange's name.")]


def _settings(pairs: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs: a value is read as JSON where it is JSON (numbers, true), else
    kept as text."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair!r}: write KEY=VALUE")
        try:
            config[key.strip()] = json.loads(value)
        except ValueError:
            config[key.strip()] = value
    return config


def _member_adder(bank: Bank) -> Any:
    from hashwarden.service.banks import NamedBanks

    named = NamedBanks(bank)

    def add(name: str, entry_ids: list[int]) -> None:
        named.add_members(name, entry_ids, actor="exchange")

    return add


@app.command("add")
def exchange_add(
    bank: BankArg,
    name: NameArg,
    api: Annotated[
        str,
        typer.Option(
            metavar="API",
            help="file, ncmec, stopncii, threatexchange or tat (python-threatexchange).",
        ),
    ],
    file: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="file: the list (one '<signal_type> <value>' a line)."),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="A field of the API's collaboration config (repeatable).",
        ),
    ] = None,
    named_bank: Annotated[
        str | None,
        typer.Option(metavar="BANK", help="The named bank its entries go in (default: NAME)."),
    ] = None,
    category: Annotated[
        str, typer.Option("--category", "-c", metavar="CATEGORY", help="Its entries' category.")
    ] = "csam",
    credentials_env: Annotated[
        str | None,
        typer.Option(metavar="VARIABLE", help="Read the credentials from this variable."),
    ] = None,
    credentials_file: Annotated[
        str | None, typer.Option(metavar="FILE", help="Read the credentials from this file.")
    ] = None,
) -> None:
    """Configure an exchange (credentials are read when fetching, never stored)."""
    from hashwarden.errors import NotFoundError
    from hashwarden.exchange.programmes import ProgrammeExchanges
    from hashwarden.service.banks import NamedBanks

    if credentials_env and credentials_file:
        raise UsageError("give --credentials-env or --credentials-file, not both")
    config = _settings(setting or [])
    if file is not None:
        config["filename"] = file
    credentials = (
        {"env": credentials_env}
        if credentials_env
        else {"file": credentials_file}
        if credentials_file
        else None
    )
    with open_bank_first(bank) as b, b.db.transaction():
        exchange = ProgrammeExchanges(b).add(
            name,
            api,
            config=config,
            named_bank=named_bank,
            credentials=credentials,
            category=category,
        )
        named = NamedBanks(b)
        try:
            named.get(exchange.named_bank)
        except NotFoundError:
            named.create(exchange.named_bank, note=f"exchange {name}", actor="exchange")
    console.print(
        f"added exchange {name} ({api}) into named bank {exchange.named_bank}", markup=False
    )


@app.command("list")
def exchange_list(bank: BankArg, as_json: JsonOpt = False) -> None:
    """The exchanges configured, with their last fetch."""
    from hashwarden.exchange.programmes import ProgrammeExchanges

    with open_bank_first(bank, readonly=True) as b:
        exchanges = ProgrammeExchanges(b).all()
    for exchange in exchanges:
        if as_json:
            print(json.dumps(exchange.to_json()))
        else:
            console.print(
                f"{exchange.name}  {exchange.api}  into {exchange.named_bank}  "
                f"category {exchange.category}  last fetch {exchange.fetched or 'never'}",
                markup=False,
            )


@app.command("fetch")
def exchange_fetch(
    bank: BankArg,
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="NAME...", help="The exchanges (default: all).", show_default=False),
    ] = None,
) -> None:
    """Fetch from where the last fetch stopped; deleted and withdrawn records are removed."""
    from hashwarden.cli._options import keep_index_current
    from hashwarden.exchange.programmes import ProgrammeExchanges

    with open_bank_first(bank) as b:
        exchanges = ProgrammeExchanges(b)
        for name in names or [e.name for e in exchanges.all()]:
            result = exchanges.fetch(name, into_named_bank=_member_adder(b))
            err_console.print(result.message(name), markup=False)
        keep_index_current(b)


@app.command("remove")
def exchange_remove(
    bank: BankArg,
    name: NameArg,
    entries: Annotated[
        bool, typer.Option("--entries", help="Also remove the entries it alone brought.")
    ] = False,
) -> None:
    """Forget an exchange and its checkpoint (its entries stay unless --entries)."""
    from hashwarden.cli._options import keep_index_current
    from hashwarden.exchange.programmes import ProgrammeExchanges

    with open_bank_first(bank) as b:
        removed = ProgrammeExchanges(b).remove(name, entries=entries)
        keep_index_current(b)
    console.print(f"removed exchange {name}; {removed} entries removed", markup=False)


@app.command("vote")
def exchange_vote(
    bank: BankArg,
    name: NameArg,
    kind: Annotated[str, typer.Option(metavar="KIND", help="md5, sha256 or pdq.")],
    value: Annotated[str, typer.Option(metavar="HASH", help="The signal's value.")],
    dispute: Annotated[
        bool, typer.Option("--dispute/--confirm", help="A false positive, or confirmed.")
    ] = False,
) -> None:
    """Send the programme this bank's verdict on one of its signals (an up- or down-vote)."""
    from hashwarden.exchange.programmes import ProgrammeExchanges
    from hashwarden.signals import default_registry

    signal = default_registry().signal(kind, value)
    with open_bank_first(bank) as b:
        ProgrammeExchanges(b).send_opinion(name, signal, confirm=not dispute)
    verdict = "dispute" if dispute else "confirmation"
    console.print(f"sent a {verdict} of {kind} {signal.value} to {name}", markup=False)
