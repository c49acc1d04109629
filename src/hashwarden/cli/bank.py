"""`hashwarden bank ...`: create, fill, inspect and verify a hash bank."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from hashwarden.bank import (
    AddResult,
    NewEntry,
    SqliteBank,
    create_bank,
    open_bank,
    parse_category,
)
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
from hashwarden.cli._progress import hashed_files, progress_bar
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.exchange import ImportOptions, check_category_map, get_format, read_nsrl
from hashwarden.exchange.base import CATEGORY_SCHEMES, shareable
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
        result = b.add_entries([entry], action="entry.add", on_duplicate="error")
        _keep_index_current(b)
    if result.added:
        console.print(f"added entry {result.added[0]}")
        return
    console.print(f"merged the new hashes into entry {result.matched[0]}")
    _print_existing(result)


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
            console.print(_added_message("added", result))
        _keep_index_current(b)
    if failed:
        raise typer.Exit(6)


@app.command()
def remove(
    bank: BankArg,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
) -> None:
    """Remove the entry holding a hash value (given by exactly one of the hash options); the
    removal is audited and travels in the next bundle."""
    given = {"md5": md5, "sha1": sha1, "sha256": sha256, "pdq": pdq}
    if sum(bool(value) for value in given.values()) != 1:
        raise UsageError("give exactly one of --md5, --sha1, --sha256, --pdq")
    (signal,) = signals_given(**given)
    with open_bank(bank) as b:
        removed = b.remove_by_signal(signal, reason=reason)
        _keep_index_current(b)
    kinds = ", ".join(f"{s.kind} {s.value}" for s in removed.signals)
    console.print(f"removed entry {removed.id} ({kinds})")


FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="plain, csv, vics, icse, hma; nsrl (import only).")
]


def _open_input(file: Path) -> BinaryIO:
    return sys.stdin.buffer if str(file) == "-" else file.open("rb")


@app.command("import")
def import_list(
    bank: BankArg,
    file: Annotated[Path, typer.Argument(help="The file to import ('-' for standard input).")],
    format_name: FormatOpt = "plain",
    kind: Annotated[
        str | None, typer.Option(help="Kind of every bare hash (needed for 64 digits).")
    ] = None,
    category: Annotated[
        str, typer.Option("--category", "-c", help="Category of records that carry none.")
    ] = "uncategorised",
    category_scheme: Annotated[
        str, typer.Option(help="How the file's category numbers read: vic, vic-legacy or uk.")
    ] = "vic",
    map_category: Annotated[
        list[str] | None,
        typer.Option("--map-category", help="FILE_CATEGORY=OUR_CATEGORY, repeatable."),
    ] = None,
    series: SeriesOpt = None,
    source: SourceOpt = None,
    known_good: Annotated[
        str | None, typer.Option(help="Import into this known-good set instead.")
    ] = None,
) -> None:
    """Import a hash list of any supported format; all or nothing."""
    if category_scheme not in CATEGORY_SCHEMES:
        raise UsageError(f"--category-scheme must be one of {', '.join(CATEGORY_SCHEMES)}")
    name = "stdin" if str(file) == "-" else str(file)
    if format_name == "nsrl":
        _import_nsrl(bank, file, known_good or "nsrl", source)
        return
    fmt = get_format(format_name)
    options = ImportOptions(
        kind=default_registry().get(kind).name if kind else None,
        category_scheme=category_scheme,
        category_map=check_category_map(map_category or []),
        category=parse_category(category),
        series=series,
        source=source,
    )
    with open_bank(bank) as b, _open_input(file) as stream:
        entries = fmt.read(stream, options, name)
        if known_good:
            signals = (signal for entry in entries for signal in entry.signals)
            count = b.add_known_good(known_good, signals, source=source)
            _keep_index_current(b)
            console.print(f"imported {count} hashes into known-good set {known_good}")
            return
        result = b.add_entries(
            entries,
            action="entries.import",
            detail={"format": fmt.name, "file": Path(name).name},
        )
        _keep_index_current(b)
    console.print(_added_message("imported", result))


def _keep_index_current(bank: SqliteBank) -> None:
    """Leave the bank ready to match at once: its saved index brought up to date."""
    from hashwarden.index.saved import keep_index_current

    keep_index_current(bank)


def _added_message(verb: str, result: AddResult) -> str:
    """What an addition did: new entries, and for records already banked what became of the
    entries' categories and whether they gained hashes."""
    count = len(result.added)
    message = f"{verb} {count} new {'entry' if count == 1 else 'entries'}"
    if result.duplicates:
        message += (
            f"; {result.duplicates} already in the bank (category: {result.category_updated}"
            f" updated, {result.category_kept} kept, {result.category_conflicting} conflicting)"
        )
    if result.merged:
        message += f"; {len(result.merged)} existing entries gained hashes or fields"
    return message


def _print_existing(result: AddResult) -> None:
    if result.category_updated:
        console.print("its category was updated")
    elif result.category_conflicting:
        console.print("its category differs from the one given and was kept")


def _import_nsrl(bank: str, file: Path, set_name: str, source: str | None) -> None:
    if not file.is_file():
        raise NotFoundError(f"no NSRL database at {file}")
    with open_bank(bank) as b, progress_bar() as bar:
        task = bar.add_task("reading NSRL", total=None)
        signals = read_nsrl(file, on_rows=lambda n: bar.advance(task, n))
        count = b.add_known_good(set_name, signals, source=source or "NIST NSRL")
        _keep_index_current(b)
    console.print(f"imported {count} hashes into known-good set {set_name}")


@app.command("export")
def export_list(
    bank: BankArg,
    format_name: FormatOpt = "plain",
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    include_file_names: Annotated[
        bool,
        typer.Option(help="Also send original file names and paths (kept home by default)."),
    ] = False,
    include_notes: Annotated[
        bool, typer.Option(help="Also send the entries' free-text notes (kept home by default).")
    ] = False,
) -> None:
    """Export the bank's entries in a supported format. Original file names and notes stay
    in the bank unless asked for."""
    fmt = get_format(format_name)
    with open_bank(bank, readonly=True) as b:
        kinds = [default_registry().get(kind).name] if kind else sorted(b.stats().signals_by_kind)
        entries = (
            shareable(e, file_names=include_file_names, notes=include_notes)
            for e in b.entries()
            if any(s.kind in kinds for s in e.signals)
        )
        if out is None:
            fmt.write(entries, sys.stdout.buffer, kinds)
            sys.stdout.buffer.flush()
            return
        with out.open("wb") as stream:
            count = fmt.write(entries, stream, kinds)
    err_console.print(
        f"wrote {count} {'hashes' if fmt.name in ('plain', 'hma') else 'entries'} to {out}"
    )


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
    """Check the audit log's hash chain and that the entries, known-good sets, keys, trust,
    named banks, action rules and report decisions match it (exit 5 on tampering)."""
    with open_bank(bank, readonly=True) as b:
        report = b.verify()
    if report.ok:
        console.print(
            f"ok: {report.events} audit events, {report.entries} entries,"
            f" {report.guarded} guarded tables, chain intact"
        )
        return
    for problem in report.problems:
        err_console.print(f"tampering: {problem}")
    raise typer.Exit(5)


@app.command()
def conflicts(
    bank: BankArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Entries whose contributing organisations disagree on the category."""
    with open_bank(bank, readonly=True) as b:
        found = b.conflicts()
        current = b.entries_by_id(found)
    if as_json:
        print(
            json.dumps(
                {
                    str(k): {"consensus": current[k].category, "organisations": v}
                    for k, v in found.items()
                }
            )
        )
        return
    for entry_id, views in found.items():
        opinions = ", ".join(f"{org}: {cat}" for org, cat in views.items())
        console.print(f"entry {entry_id}  consensus {current[entry_id].category}  ({opinions})")
    console.print(f"{len(found)} entries with disagreeing categories")


@app.command()
def vote(
    bank: BankArg,
    entry: Annotated[int, typer.Argument(help="The entry's id.")],
    org: Annotated[str, typer.Option("--org", help="The organisation voting.")],
    dispute: Annotated[
        bool, typer.Option("--dispute/--confirm", help="Dispute or confirm the entry.")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why (for a dispute).")] = None,
) -> None:
    """Record an organisation's confirmation or dispute of an entry."""
    with open_bank(bank) as b:
        category = b.vote(entry, org, "dispute" if dispute else "confirm", reason=reason)
    console.print(f"recorded; entry {entry} is now {category}")
