"""`hashwarden bank ...`: create, fill, inspect and verify a hash bank."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.bank import NewEntry, create_bank, open_bank, parse_category
from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import (
    Md5Opt,
    PdqModeOpt,
    PdqOpt,
    Sha1Opt,
    Sha256Opt,
    VictimOpt,
    WorkersOpt,
    check_pdq_mode,
    signals_given,
)
from hashwarden.cli._progress import hashed_files
from hashwarden.errors import UsageError
from hashwarden.exchange.plain import read_plain, write_plain
from hashwarden.signals import Signal, default_registry

app = new_typer("Create, fill, inspect and verify a hash bank.")

BankArg = Annotated[str, typer.Argument(help="The bank: a SQLite file, or a postgresql:// DSN.")]
CategoryOpt = Annotated[
    str,
    typer.Option(
        "--category", "-c", help="Category: a hashwarden name, a Project VIC number or a UK letter."
    ),
]
SeriesOpt = Annotated[str | None, typer.Option(help="Series name.")]
SourceOpt = Annotated[str | None, typer.Option(help="Contributing organisation.")]


@app.command()
def init(bank: BankArg) -> None:
    """Create a new, empty bank."""
    with create_bank(bank) as b:
        console.print(f"created bank {bank} (id {b.bank_id})")


@app.command()
def add(
    bank: BankArg,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    category: CategoryOpt = "uncategorised",
    series: SeriesOpt = None,
    source: SourceOpt = None,
    victim_identified: VictimOpt = False,
    first_seen: Annotated[str | None, typer.Option(help="When first seen (ISO date).")] = None,
    note: Annotated[str | None, typer.Option(help="Free note.")] = None,
) -> None:
    """Add one entry from hash values given on the command line."""
    signals = signals_given(md5=md5, sha1=sha1, sha256=sha256, pdq=pdq)
    entry = NewEntry(
        signals, parse_category(category), series, victim_identified, source, first_seen, note
    )
    with open_bank(bank) as b:
        entry_id = b.add_entry(entry)
    console.print(f"added entry {entry_id}")


@app.command("add-files")
def add_files(
    bank: BankArg,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to hash and add.")],
    category: CategoryOpt = "uncategorised",
    series: SeriesOpt = None,
    source: SourceOpt = None,
    victim_identified: VictimOpt = False,
    known_good: Annotated[
        str | None, typer.Option(help="Add to this known-good set instead of as known entries.")
    ] = None,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
) -> None:
    """Hash files (folders recursively) and add them to the bank."""
    cat = parse_category(category)
    entries: list[NewEntry] = []
    failed = 0
    mode = check_pdq_mode(pdq_mode)
    for path, hashes, error in hashed_files(paths, "hashing", workers=workers, pdq_mode=mode):
        if hashes is None:
            err_console.print(f"skipped {path}: {error}")
            failed += 1
            continue
        signals = [Signal(k, v) for k, v in hashes.signals().items()]
        entries.append(
            NewEntry(
                signals, cat, series, victim_identified, source, extra={"file_name": path.name}
            )
        )
    with open_bank(bank) as b:
        if known_good:
            count = b.add_known_good(
                known_good, (s for e in entries for s in e.signals), source=source
            )
            console.print(
                f"added {count} signals of {len(entries)} files to known-good set {known_good}"
            )
        else:
            result = b.add_entries(entries, action="entries.add_files")
            console.print(f"added {len(result.added)} entries ({result.duplicates} already banked)")
    if failed:
        raise typer.Exit(6)


@app.command("import")
def import_list(
    bank: BankArg,
    file: Annotated[
        Path, typer.Argument(help="A plain hash list, one hash a line ('-' for stdin).")
    ],
    kind: Annotated[
        str | None, typer.Option(help="Kind of every hash (needed for 64 digits).")
    ] = None,
    category: CategoryOpt = "uncategorised",
    series: SeriesOpt = None,
    source: SourceOpt = None,
    known_good: Annotated[
        str | None, typer.Option(help="Import into this known-good set instead.")
    ] = None,
) -> None:
    """Import a plain hash list; all or nothing."""
    cat = parse_category(category)
    name = "stdin" if str(file) == "-" else str(file)
    with open_bank(bank) as b:
        stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8", errors="strict")
        try:
            signals = (s for _, s in read_plain(stream, kind=kind, name=name))
            if known_good:
                count = b.add_known_good(known_good, signals, source=source)
                console.print(f"imported {count} hashes into known-good set {known_good}")
                return
            result = b.add_entries(
                (NewEntry([s], cat, series, source=source) for s in signals),
                action="entries.import",
                detail={"format": "plain", "file": Path(name).name},
            )
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from exc
        finally:
            if stream is not sys.stdin:
                stream.close()
    console.print(f"imported {len(result.added)} entries ({result.duplicates} already banked)")


@app.command("export")
def export_list(
    bank: BankArg,
    kind: Annotated[str | None, typer.Option(help="Only this kind (bare hashes).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Export the bank's hashes as a plain list."""
    kinds = [default_registry().get(kind).name] if kind else None
    with open_bank(bank, readonly=True) as b:
        wanted = kinds or sorted(b.stats().signals_by_kind)
        signals = (Signal(k, v) for k in wanted for _, v in b.signals(k))
        if out is None:
            write_plain(signals, sys.stdout, with_kind=kinds is None)
            return
        with out.open("w", encoding="utf-8") as stream:
            count = write_plain(signals, stream, with_kind=kinds is None)
    err_console.print(f"wrote {count} hashes to {out}")


@app.command()
def stats(
    bank: BankArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Summarise the bank: entries, signals by kind, categories, known-good sets."""
    with open_bank(bank, readonly=True) as b:
        s = b.stats()
    if as_json:
        console.print_json(json.dumps(s.__dict__))
        return
    console.print(f"bank {bank}  id {s.bank_id}")
    console.print(f"entries: {s.entries}   audit events: {s.audit_events}")
    for kind, n in s.signals_by_kind.items():
        console.print(f"  {kind:>8}: {n}")
    console.print("by category:")
    for cat, n in s.entries_by_category.items():
        console.print(f"  {cat:>14}: {n}")
    if s.known_good_sets:
        console.print("known-good sets:")
        for name, n in s.known_good_sets.items():
            console.print(f"  {name}: {n}")
    console.print(f"fingerprint: {s.fingerprint}")


@app.command()
def verify(bank: BankArg) -> None:
    """Check the audit log's hash chain and that the entries match it (exit 5 on tampering)."""
    with open_bank(bank, readonly=True) as b:
        report = b.verify()
    if report.ok:
        console.print(f"ok: {report.events} audit events, {report.entries} entries, chain intact")
        return
    for problem in report.problems:
        err_console.print(f"tampering: {problem}")
    raise typer.Exit(5)
