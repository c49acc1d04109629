"""The indexes saved next to a SQLite bank (`BANK.pdqidx/`: the PDQ index, and the exact-kind
tables of entries and of known-good sets in its `exact/` and `known_good/` folders), so a scan
or a service starts in about a second however large the bank; changes made since they were
saved are applied from the audit log when they are loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

from hashwarden.bank.protocols import BankStore
from hashwarden.errors import DataError
from hashwarden.index.exact import ExactIndex, KnownGoodIndex, entries_index
from hashwarden.index.pdq import PdqIndex

__all__ = ["index_folder", "load_saved_exact", "load_saved_index", "save_index"]


def index_folder(bank: BankStore) -> Path | None:
    """Where a bank's index lives: beside a SQLite file; PostgreSQL banks index in memory."""
    if bank.location.startswith(("postgresql://", "postgres://")):
        return None
    return bank.path.with_name(bank.path.name + ".pdqidx")


def save_index(bank: BankStore) -> tuple[Path, int]:
    """Build the bank's PDQ index and save it; returns the folder and the hash count."""
    folder = index_folder(bank)
    if folder is None:
        raise DataError("only SQLite banks keep a saved index; PostgreSQL banks index in memory")
    seq, head = bank.audit.head()
    pairs = list(bank.entries.signals("pdq"))
    index = PdqIndex([p[0] for p in pairs], [p[1] for p in pairs])
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    index.save(staging, {"bank_id": bank.bank_id, "seq": seq, "head": head})
    entries_index(bank).save(staging / "exact")
    KnownGoodIndex.from_bank(bank).save(staging / "known_good")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder, len(pairs)


def load_saved_index(bank: BankStore) -> tuple[PdqIndex, int] | None:
    """The saved index and the audit sequence it reflects, or None when there is none usable
    (missing, damaged, of another bank, or newer than the bank: then it is rebuilt)."""
    folder = index_folder(bank)
    if folder is None or not folder.is_dir():
        return None
    try:
        index, meta = PdqIndex.load(folder)
    except DataError:
        return None
    seq = meta.get("seq")
    if (
        meta.get("bank_id") != bank.bank_id
        or not isinstance(seq, int)
        or seq > bank.audit.head()[0]
    ):
        return None
    return index, seq


def load_saved_exact(bank: BankStore) -> tuple[ExactIndex, KnownGoodIndex] | None:
    """The saved exact-kind tables (entries, known-good sets), or None when there are none
    usable; they reflect the same audit sequence as `load_saved_index`'s PDQ index."""
    folder = index_folder(bank)
    if folder is None or not folder.is_dir():
        return None
    try:
        entries, _ = ExactIndex.load(folder / "exact")
        known_good = KnownGoodIndex.load(folder / "known_good")
    except DataError:
        return None
    return entries, known_good
