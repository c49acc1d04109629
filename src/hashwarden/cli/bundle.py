"""`hashwarden bundle ...`: signed delta bundles between banks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import (
    BankArg,
    RetroOpt,
    keep_index_current,
    open_bank_first,
    output,
    where,
)

app = new_typer("Signed delta bundles between banks.")

FileNamesOpt = Annotated[
    bool,
    typer.Option(
        "--include-file-names",
        help="Also send original file names, paths, EXIF, comments and case details.",
    ),
]


def counts_text(counts: dict[str, int]) -> str:
    return (
        f"{counts['added']} added, {counts['updated']} updated, {counts['removed']} removed, "
        f"{counts['claimed']} claimed on entries held by others, "
        f"{counts['withdrawn']} claims withdrawn"
    )


@app.command("export")
def bundle_export(
    bank: BankArg,
    sign: Annotated[Path, typer.Option("--sign", metavar="NAME.key", help="The private key file.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="The bundle file to write ('-' or none: standard output).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        int, typer.Option(min=0, metavar="SEQ", help="Audit sequence the receiver has.")
    ] = 0,
    category: Annotated[
        list[str] | None,
        typer.Option(metavar="CATEGORY", help="Share only these categories (repeatable)."),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(metavar="ORG", help="Share only entries of these sources (repeatable)."),
    ] = None,
    include_file_names: FileNamesOpt = False,
) -> None:
    """Write the bank's changes after --since as a signed bundle (without file names and
    other personal fields unless --include-file-names)."""
    from hashwarden.bank import parse_category
    from hashwarden.exchange.bundle import build_bundle

    with open_bank_first(bank, readonly=True) as b:
        bundle = build_bundle(
            b,
            since=since,
            key_path=sign,
            categories={parse_category(c) for c in category} if category else None,
            sources=set(source) if source else None,
            include_file_names=include_file_names,
        )
    with output(out) as stream:
        stream.write(json.dumps(bundle, ensure_ascii=False).encode())
    body = bundle["body"]
    err_console.print(
        f"wrote {where(out)}: {len(body['upserts'])} entries, {len(body['removals'])} "
        f"removals, changes {body['since']} to {body['sequence']}",
        markup=False,
    )


@app.command("import")
def bundle_import(
    bank: BankArg,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A bundle.")],
    retro: RetroOpt = None,
) -> None:
    """Verify a bundle against the trusted keys and apply it, all or nothing.

    Exit 3 when malformed; 5 when unsigned, untrusted, tampered or signed by a key not
    bound to its origin; 9 when replayed or out of order. With --retro DIR: 1 when the
    retro-hunt after it found new matches in stored cases."""
    from hashwarden.exchange.bundle import import_bundle

    with open_bank_first(bank) as b:
        counts = import_bundle(b, file)
        keep_index_current(b)
    console.print(f"applied {file}: {counts_text(counts)}", markup=False)
    if retro is not None:
        from hashwarden.cli.retro import retro_after_import

        raise typer.Exit(retro_after_import(bank, retro))
