"""`hashwarden keys ...`: signing keys, and the public keys a bank trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import BankArg, open_bank_first

app = new_typer("Signing keys: make a key pair; trust, list and revoke public keys.")


@app.command("generate")
def keys_generate(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Key name: writes NAME.key and NAME.pub.")
    ],
    folder: Annotated[Path, typer.Option(metavar="DIR", help="Where to write them.")] = Path("."),
) -> None:
    """Make an Ed25519 key pair: NAME.key (private, mode 600) and NAME.pub (to share)."""
    from hashwarden.exchange.bundle import generate_keys

    private, public = generate_keys(name, folder)
    console.print(
        f"private key: {private} (keep it secret)\npublic key:  {public} (share it)", markup=False
    )


@app.command("add")
def keys_add(
    bank: BankArg,
    public_key: Annotated[Path, typer.Argument(metavar="NAME.pub", help="A NAME.pub file.")],
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            metavar="BANK_ID",
            help="The bank id this key signs for (repeatable); without it, the first bundle "
            "the key signs binds it to that bundle's origin.",
        ),
    ] = None,
) -> None:
    """Trust bundles signed by this key, for the origins it is bound to."""
    from hashwarden.exchange.bundle import add_trusted_key

    with open_bank_first(bank) as b:
        name = add_trusted_key(b, public_key, origins=origin or [])
    bound = f" for origin {', '.join(origin)}" if origin else " (bound on first use)"
    console.print(f"trusting key {name}{bound}", markup=False)


@app.command("list")
def keys_list(bank: BankArg) -> None:
    """The keys this bank trusts and the origins each may sign for."""
    from hashwarden.exchange.bundle import key_origins

    with open_bank_first(bank, readonly=True) as b:
        rows = b.trust.all_keys()
        origins = key_origins(b)
    for name, key, added, revoked in rows:
        state = f"revoked {revoked}" if revoked else "trusted"
        bound = ", ".join(origins.get(name, [])) or "none yet (bound on first use)"
        console.print(f"{name}  {key}  added {added}  {state}  origins: {bound}", markup=False)
    if not rows:
        console.print("no trusted keys")


@app.command("revoke")
def keys_revoke(
    bank: BankArg, name: Annotated[str, typer.Argument(metavar="NAME", help="The key's name.")]
) -> None:
    """Stop trusting a key: its bundles are refused from now on."""
    from hashwarden.exchange.bundle import revoke_trusted_key

    with open_bank_first(bank) as b:
        revoke_trusted_key(b, name)
    console.print(f"revoked key {name}", markup=False)
