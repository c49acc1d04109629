"""`hashwarden index ...`: build and inspect the PDQ index saved next to a bank."""

from __future__ import annotations

import time

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import BankArg, open_bank_first
from hashwarden.errors import EXIT_NOT_FOUND

app = new_typer("Build and inspect the PDQ index saved next to a bank.")


@app.command()
def build(bank: BankArg) -> None:
    """Build the bank's PDQ index and exact-kind tables and save them beside the bank
    (BANK.pdqidx/)."""
    from hashwarden.index.saved import save_index

    started = time.perf_counter()
    with open_bank_first(bank, readonly=True) as b:
        folder, count = save_index(b)
    console.print(
        f"indexed {count} PDQ hashes in {time.perf_counter() - started:.1f} s: {folder}",
        markup=False,
    )


@app.command()
def status(bank: BankArg) -> None:
    """Say whether a saved index exists and how far behind the bank it is (exit 4: none)."""
    from hashwarden.index.saved import index_folder, load_saved_index

    with open_bank_first(bank, readonly=True) as b:
        folder = index_folder(b)
        saved = load_saved_index(b)
        head, _ = b.audit.head()
    if saved is None:
        console.print(
            f"no usable saved index at {folder}: matching builds one in memory", markup=False
        )
        raise typer.Exit(EXIT_NOT_FOUND)
    index, seq = saved
    console.print(
        f"{folder}: {len(index)} hashes, at audit event {seq} of {head}"
        f"{' (up to date)' if seq == head else '; newer changes are applied on load'}",
        markup=False,
    )
