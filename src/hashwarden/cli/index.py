"""`hashwarden index ...`: the indexes saved next to a bank."""

from __future__ import annotations

import time

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import BankArg, open_bank_first
from hashwarden.errors import EXIT_NOT_FOUND

app = new_typer("Build and inspect the indexes saved next to a bank.")


@app.command()
def build(bank: BankArg) -> None:
    """Build the bank's PDQ index and exact-kind tables, the known-good tables in full, and
    save them beside the bank (BANK.index/). Imports and other changes keep them current."""
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
    """Say whether the saved indexes are usable and how far behind the bank they are.
    Exit 4 when one is missing or unusable (matching then rebuilds and saves it)."""
    from hashwarden.index.saved import index_folder, saved_state

    with open_bank_first(bank, readonly=True) as b:
        folder = index_folder(b)
        state = saved_state(b)
        head, _ = b.audit.head()
    for part, saved in state.items():
        if saved.seq is None:
            console.print(
                f"{part}: not usable ({saved.text}); the next match rebuilds and saves it",
                markup=False,
            )
            continue
        behind = (
            f"{saved.changes} changes since, applied on load" if saved.changes else "up to date"
        )
        console.print(
            f"{part}: {saved.text}, saved at audit event {saved.seq} of {head} ({behind})",
            markup=False,
        )
    console.print(f"saved in {folder}", markup=False)
    if any(saved.seq is None for saved in state.values()):
        raise typer.Exit(EXIT_NOT_FOUND)
