"""`hashwarden scan`: the investigator's triage of a case against a bank."""

from __future__ import annotations

import re
import sqlite3
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hashwarden.cli._app import console, err_console
from hashwarden.cli._options import (
    CasesOpt,
    ClusterOpt,
    OldBankOpt,
    PdqModeOpt,
    WorkersOpt,
    bank_and_rest,
    check_paths,
    check_pdq_mode,
    open_bank_first,
)
from hashwarden.errors import HashwardenError, UsageError
from hashwarden.reports.statistics import CHANNELS, Event, events_from_scan, record_events
from hashwarden.scan import LIMIT_FLAGS, Limits  # the limits' defaults are shown in --help

if TYPE_CHECKING:
    from hashwarden.cases import CaseWriter
    from hashwarden.cluster import Cluster
    from hashwarden.scan import FileRecord, ScanResult

#: Records go here as the scan makes them; removed once the report is written.
SPOOL_NAME = ".records.jsonl"

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def parse_size(text: str, flag: str) -> int:
    """Bytes from `1000000`, `512MiB`, `64GiB` or `2TB` (KiB... are 1024-based, KB... 1000)."""
    found = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS or int(found.group(1)) < 1:
        raise UsageError(f"{flag} must be a size in bytes such as 1000000, 512MiB or 64GiB")
    return int(found.group(1)) * _UNITS[unit]


def _size_text(size: int) -> str:
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        if size % _UNITS[unit.lower()] == 0:
            return f"{size // _UNITS[unit.lower()]}{unit}"
    return str(size)


_DEFAULT = Limits()
_PANEL = "Limits (for the whole scan; see docs/scan.md)"


def _scan_with_progress(
    paths: list[Path],
    bank: str | Path,
    threshold: int,
    workers: int | None = None,
    pdq_mode: str = "fast",
    exclude_disputed: bool = False,
    limits: Limits | None = None,
    spool: Path | None = None,
    keep: CaseWriter | None = None,
    cluster: Cluster | None = None,
) -> ScanResult:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hashwarden.scan import run_scan

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} files"),
        TimeElapsedColumn(),
        console=err_console.rich(),
        transient=True,
    ) as bar:
        task = bar.add_task("scanning", total=None)

        def advance(record: FileRecord) -> None:
            bar.update(task, advance=1, description=f"scanning [{record.status}]")

        return run_scan(
            paths,
            bank,
            threshold=threshold,
            on_item=advance,
            workers=workers,
            pdq_mode=pdq_mode,
            exclude_disputed=exclude_disputed,
            limits=limits,
            spool=spool,
            on_hashes=keep.add if keep is not None else None,
            hasher=cluster.hash_in_parallel if cluster is not None else None,
        )


def _summary(result: ScanResult, out: Path) -> None:
    from rich.table import Table

    table = Table(title="scan summary", show_header=True)
    table.add_column("status")
    table.add_column("files", justify="right")
    for status, n in result.counts.items():
        table.add_row(status, str(n))
    console.print(table)
    for category, n in result.record["matched_by_category"].items():
        console.print(f"  matched as {category}: {n}")
    console.print(f"clusters of unknown near-duplicates: {len(result.clusters)}")
    if result.record.get("images_not_clustered"):
        console.print(
            f"  {result.record['images_not_clustered']:,} unknown images were not clustered "
            "(over the clustering limit; they are classified and listed)"
        )
    console.print(f"report: {out / 'report.html'}  (also report.json, report.csv)")
    if result.cut_short:
        limits = result.record["limits"]
        hits = ", ".join(
            f"{LIMIT_FLAGS[name]} {limits[name]} ({n} record{'s' * (n != 1)} cut short)"
            for name, n in result.cut_short.items()
        )
        console.print(
            f"[bold red]scan cut short[/]: some content was not read because it reached a "
            f"limit: {hits}. The report lists what was cut (errors saying 'cut short'); "
            "raise the limit and scan again to read it.",
            markup=True,
            highlight=False,
        )


def scan_command(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="BANK PATH...",
            help="The bank, then folders, files or archives to scan.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for the report (with --bloom: the candidates' file, else standard "
            "output).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a report already in --out.")
    ] = False,
    threshold: Annotated[
        int, typer.Option(min=0, max=128, metavar="BITS", help="PDQ match distance.")
    ] = 31,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
    record_stats: Annotated[
        bool, typer.Option(help="Record the findings (counts only) in the bank's statistics.")
    ] = True,
    channel: Annotated[
        str, typer.Option(metavar="CHANNEL", help="Where the evidence came from.")
    ] = "device",
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="Country or region, for statistics.")
    ] = None,
    exclude_disputed: Annotated[
        bool, typer.Option(help="Entries more organisations dispute than confirm never match.")
    ] = False,
    max_records: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", rich_help_panel=_PANEL, help="Records in the report; then stop."
        ),
    ] = _DEFAULT.max_records,
    max_members: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", rich_help_panel=_PANEL, help="Archive members read, all depths."
        ),
    ] = _DEFAULT.max_members,
    max_expanded_bytes: Annotated[
        str,
        typer.Option(
            metavar="SIZE", rich_help_panel=_PANEL, help="Bytes expanded from archives, all depths."
        ),
    ] = _size_text(_DEFAULT.max_expanded_bytes),
    max_depth: Annotated[
        int,
        typer.Option(
            min=0, metavar="N", rich_help_panel=_PANEL, help="Levels of archives in archives."
        ),
    ] = _DEFAULT.max_depth,
    max_archive_bytes: Annotated[
        str,
        typer.Option(
            metavar="SIZE",
            rich_help_panel=_PANEL,
            help="Largest archive opened; also all bytes expanded from one archive on disk.",
        ),
    ] = _size_text(_DEFAULT.max_archive_bytes),
    max_archive_members: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", rich_help_panel=_PANEL, help="Members read from one archive."
        ),
    ] = _DEFAULT.max_archive_members,
    max_ratio: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            rich_help_panel=_PANEL,
            help="Expansion of one zip member, and of one archive on disk at all depths.",
        ),
    ] = _DEFAULT.max_ratio,
    max_member_bytes: Annotated[
        str,
        typer.Option(metavar="SIZE", rich_help_panel=_PANEL, help="Largest archive member read."),
    ] = _size_text(_DEFAULT.max_member_bytes),
    case: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Keep the files' hashes (never content) under this case, for `retro`"
            " (default: the --out folder's name).",
        ),
    ] = None,
    keep_hashes: Annotated[
        bool, typer.Option(help="Keep the files' hashes in the case store (docs/retro.md).")
    ] = True,
    cases: CasesOpt = None,
    cluster: ClusterOpt = None,
    old_bank: OldBankOpt = None,
    bloom: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Triage without the bank: every argument is a path, checked against this Bloom "
            "filter (bank export --format bloom); candidates are listed as JSON lines.",
            show_default=False,
        ),
    ] = None,
    bloom_key: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="The key of a keyed --bloom filter.", show_default=False),
    ] = None,
) -> None:
    """Triage evidence: matched, known-good, unknown (grouped into series) and errors.

    Exit codes: 0 nothing matched, 1 matches found, 6 some files could not be read,
    7 matches found and some files could not be read or the scan was cut short by a limit,
    11 the scan was cut short by a limit (nothing matched in what was read),
    2 usage, 4 bank or input not found (checked before anything is read), 8 the --cluster
    scheduler cannot be reached, 9 --out holds a report already (see --force). With --bloom
    (no bank): 0 no candidates, 1 candidates, 6 some files not read, 7 both.
    """
    from hashwarden.reports.case import prepare_report_dir, write_case_report

    limits = _limits(
        max_records,
        max_members,
        max_expanded_bytes,
        max_depth,
        max_archive_bytes,
        max_archive_members,
        max_ratio,
        max_member_bytes,
    )
    if bloom is not None:
        raise typer.Exit(_triage(args, old_bank, bloom, bloom_key, limits, out))
    if bloom_key is not None:
        raise UsageError("--bloom-key goes with --bloom")
    bank, names = bank_and_rest("scan", args, old_bank, "PATH... --out DIR")
    if not names:
        raise UsageError("give the folders, files or archives to scan after the bank")
    paths = check_paths(Path(name) for name in names)
    open_bank_first(bank, readonly=True).close()
    if out is None:
        raise UsageError("give --out DIR, the folder for the report")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if record_stats and channel not in CHANNELS:
        raise UsageError(f"--channel must be one of {', '.join(CHANNELS)}")
    mode = check_pdq_mode(pdq_mode)
    case_name = _case_name(case, out) if keep_hashes else None
    spool = out / SPOOL_NAME
    with ExitStack() as stack:  # the cluster and the case store first: nothing made if not
        engine = stack.enter_context(_cluster(cluster)) if cluster else None
        store = None
        if case_name is not None:
            from hashwarden.cases import CaseStore, store_location

            store = stack.enter_context(CaseStore.open(store_location(bank, cases), create=True))
        prepare_report_dir(out, SPOOL_NAME, force=force)
        keep = None
        if store is not None and case_name is not None:
            keep = store.writer(case_name, channel=channel, region=region)
        try:
            result = _scan_with_progress(
                paths, bank, threshold, workers, mode, exclude_disputed, limits, spool, keep, engine
            )
        except BaseException:
            if keep is not None:
                keep.abort()
            raise
        if keep is not None:
            kept = keep.close(result.record)
            console.print(f"kept the hashes of {kept} files in case {case_name!r}")
    write_case_report(result, out)
    _summary(result, out)
    if record_stats:
        _record(bank, events_from_scan(result, channel=channel, region=region))
    spool.unlink(missing_ok=True)
    raise typer.Exit(result.exit_code)


def _limits(
    max_records: int,
    max_members: int,
    max_expanded_bytes: str,
    max_depth: int,
    max_archive_bytes: str,
    max_archive_members: int,
    max_ratio: int,
    max_member_bytes: str,
) -> Limits:
    return Limits(
        max_records=max_records,
        max_members=max_members,
        max_expanded_bytes=parse_size(max_expanded_bytes, "--max-expanded-bytes"),
        max_depth=max_depth,
        max_archive_bytes=parse_size(max_archive_bytes, "--max-archive-bytes"),
        max_archive_members=max_archive_members,
        max_ratio=max_ratio,
        max_member_bytes=parse_size(max_member_bytes, "--max-member-bytes"),
    )


def _triage(
    args: list[str],
    old_bank: str | None,
    bloom: Path,
    bloom_key: Path | None,
    limits: Limits,
    out: Path | None,
) -> int:
    """`scan --bloom FILE PATH...`: every argument a path, checked against the filter."""
    from hashwarden.cli._triage import bloom_triage
    from hashwarden.cli.bank import read_bloom_key
    from hashwarden.exchange.bloom import BloomFilter

    if old_bank is not None:
        raise UsageError("--bloom triages without a bank: give only the paths")
    if not args:
        raise UsageError("give the folders, files or archives to check after --bloom FILE")
    paths = check_paths([bloom, *(Path(name) for name in args)])[1:]
    key = read_bloom_key(bloom_key) if bloom_key is not None else None
    if out is not None and out.is_dir():
        raise UsageError(f"--out {out} is a folder: with --bloom it names the candidates' file")
    return bloom_triage(paths, BloomFilter(bloom, key=key), limits, out)


def _case_name(case: str | None, out: Path) -> str:
    from hashwarden.cases import check_case_name

    return check_case_name(case if case is not None else out.resolve().name)


def _cluster(address: str) -> Cluster:
    from hashwarden.cluster import connect

    return connect(address)


def _record(bank: str | Path, events: list[Event]) -> None:
    """Statistics are a by-product: failing to record them never fails the scan."""
    from hashwarden.bank import open_bank

    try:
        with open_bank(bank) as b:
            count = record_events(b, events)
    except (HashwardenError, OSError, sqlite3.Error) as exc:
        err_console.print(f"warning: statistics not recorded ({exc})")
        return
    console.print(f"recorded {count} statistics events")
