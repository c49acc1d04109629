"""`hashwarden sync ...`: node-to-node sync over published signed bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import BankArg, RetroOpt, keep_index_current, open_bank_first
from hashwarden.cli._progress import progress_bar
from hashwarden.cli.bundle import FileNamesOpt, counts_text
from hashwarden.errors import UsageError
from hashwarden.exchange.sync import (  # needed by both commands, so imported here
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BUNDLE_BYTES,
    DEFAULT_MAX_INDEX_BYTES,
    publish,
    pull,
)

app = new_typer("Node-to-node sync: publish signed bundles, pull a peer's.")


@app.command("publish")
def sync_publish(
    bank: BankArg,
    sign: Annotated[Path, typer.Option("--sign", metavar="NAME.key", help="The private key file.")],
    folder: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="Folder a web server serves.")
    ],
    include_file_names: FileNamesOpt = False,
) -> None:
    """Add a bundle of the changes since the last publish to the folder (without file names
    and other personal fields unless --include-file-names)."""
    with open_bank_first(bank, readonly=True) as b:
        written = publish(b, sign, folder, include_file_names=include_file_names)
    console.print(f"published {written}" if written else "nothing new to publish", markup=False)


@app.command("pull")
def sync_pull(
    bank: BankArg,
    url: Annotated[
        str,
        typer.Option("--from", metavar="URL", help="The peer's published folder (http/https)."),
    ],
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            metavar="NAME.pub",
            help="The peer's public key: every bundle must be signed by it.",
        ),
    ],
    max_bundle_bytes: Annotated[
        int,
        typer.Option(min=1, metavar="BYTES", help="Refuse a bundle larger than this many bytes."),
    ] = DEFAULT_MAX_BUNDLE_BYTES,
    max_index_bytes: Annotated[
        int,
        typer.Option(min=1, metavar="BYTES", help="Refuse an index larger than this many bytes."),
    ] = DEFAULT_MAX_INDEX_BYTES,
    deadline: Annotated[
        float,
        typer.Option(min=0.001, metavar="SECONDS", help="Seconds one download may take in all."),
    ] = DEFAULT_DEADLINE,
    retro: RetroOpt = None,
) -> None:
    """Apply the peer's bundles not applied yet, in order; resumes after a cut.

    The key becomes trusted only once one of its bundles has verified and applied. Exit 5
    when a bundle is signed by another key; 11 over a size limit or the deadline."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--from {url!r} must be an http:// or https:// address")
    with open_bank_first(bank) as b, progress_bar() as bar:
        task = bar.add_task("pulling", total=None)

        def advance(name: str, counts: dict[str, int]) -> None:
            bar.advance(task)
            err_console.print(f"applied {name}: {counts_text(counts)}", markup=False)

        applied = pull(
            b,
            url,
            key,
            on_bundle=advance,
            max_bundle_bytes=max_bundle_bytes,
            max_index_bytes=max_index_bytes,
            deadline=deadline,
        )
        keep_index_current(b)
    console.print(f"{applied} bundle(s) applied" if applied else "already up to date")
    if retro is not None and applied:
        from hashwarden.cli.retro import retro_after_import

        raise typer.Exit(retro_after_import(bank, retro))
