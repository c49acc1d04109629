"""`hashwarden scan` (the investigator's triage) and `hashwarden demo`."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hashwarden.bank import open_bank
from hashwarden.cli._app import console, err_console
from hashwarden.cli._options import PdqModeOpt, WorkersOpt, check_pdq_mode
from hashwarden.demo import build_demo_case, demo_history
from hashwarden.errors import HashwardenError, NotFoundError, UsageError
from hashwarden.reports.case import write_case_report
from hashwarden.reports.charts import write_statistics_report
from hashwarden.reports.statistics import (
    CHANNELS,
    Event,
    events_from_scan,
    record_events,
    summarise,
)
from hashwarden.scan import FileRecord, ScanResult, run_scan


def _scan_with_progress(
    paths: list[Path],
    bank: str | Path,
    threshold: int,
    workers: int | None = None,
    pdq_mode: str = "fast",
    exclude_disputed: bool = False,
) -> ScanResult:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} files"),
        TimeElapsedColumn(),
        console=err_console,
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
        )


def _summary(result: ScanResult, out: Path) -> None:
    table = Table(title="scan summary", show_header=True)
    table.add_column("status")
    table.add_column("files", justify="right")
    for status, n in result.counts.items():
        table.add_row(status, str(n))
    console.print(table)
    for category, n in result.record["matched_by_category"].items():
        console.print(f"  matched as {category}: {n}")
    console.print(f"clusters of unknown near-duplicates: {len(result.clusters)}")
    console.print(f"report: {out / 'report.html'}  (also report.json, report.csv)")


def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Folders, files or archives to scan.")],
    bank: Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the report.")],
    threshold: Annotated[int, typer.Option(min=0, max=128, help="PDQ match distance.")] = 31,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
    record_stats: Annotated[
        bool, typer.Option(help="Record the findings (counts only) in the bank's statistics.")
    ] = True,
    channel: Annotated[str, typer.Option(help="Where the evidence came from.")] = "device",
    region: Annotated[str | None, typer.Option(help="Country or region, for statistics.")] = None,
    exclude_disputed: Annotated[
        bool, typer.Option(help="Entries more organisations dispute than confirm never match.")
    ] = False,
) -> None:
    """Triage evidence: matched, known-good, unknown (grouped into series) and errors.

    Exit codes: 0 nothing matched, 1 matches found, 6 some files could not be read,
    7 matches found and some files could not be read, 2 usage, 4 bank or input not found.
    """
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise NotFoundError(f"no such file or folder: {path}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if record_stats and channel not in CHANNELS:
        raise UsageError(f"--channel must be one of {', '.join(CHANNELS)}")
    result = _scan_with_progress(
        paths, bank, threshold, workers, check_pdq_mode(pdq_mode), exclude_disputed
    )
    write_case_report(result, out)
    _summary(result, out)
    if record_stats:
        _record(bank, events_from_scan(result, channel=channel, region=region))
    raise typer.Exit(result.exit_code)


def _record(bank: str | Path, events: list[Event]) -> None:
    """Statistics are a by-product: failing to record them never fails the scan."""
    try:
        with open_bank(bank) as b:
            count = record_events(b, events)
    except (HashwardenError, OSError, sqlite3.Error) as exc:
        err_console.print(f"warning: statistics not recorded ({exc})")
        return
    console.print(f"recorded {count} statistics events")


def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo (replaced).")] = Path(
        "demo-output"
    ),
) -> None:
    """Build a synthetic, benign case and bank, scan it, and print where the report is."""
    console.print(
        "[bold]hashwarden demo[/]: everything below is SYNTHETIC TEST DATA: abstract generated "
        "images (gradients and shapes); categories are demo labels only.",
        markup=True,
    )
    if out.exists():
        if not (out / "bank.db").exists() and any(out.iterdir()):
            raise UsageError(f"{out} exists and is not a hashwarden demo folder; choose another")
        shutil.rmtree(out)
    case = build_demo_case(out)
    console.print(
        f"demo bank: {case.bank} ({case.known_originals} known entries, one known-good set)"
    )
    console.print(f"demo evidence: {case.evidence}")
    result = _scan_with_progress([case.evidence], case.bank, 31)
    write_case_report(result, out / "report")
    _summary(result, out / "report")
    with open_bank(case.bank) as b:
        record_events(b, demo_history())
        record_events(b, events_from_scan(result, channel="device", region="SE"))
        summary = summarise(b, date(2026, 1, 1), date.today())
    report = write_statistics_report(summary, out / "statistics.html")
    console.print(f"statistics report (with a synthetic year of events): {report}")
