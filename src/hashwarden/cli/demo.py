"""`hashwarden demo`: a synthetic, benign case and bank, scanned, with its reports."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.cli._app import console
from hashwarden.cli.scan import SPOOL_NAME, _scan_with_progress, _summary
from hashwarden.errors import UsageError


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the demo (replaced).")
    ] = Path("demo-output"),
) -> None:
    """Build a synthetic, benign case and bank, scan it, and print where the report is."""
    from hashwarden.bank import open_bank
    from hashwarden.demo import build_demo_case, demo_history
    from hashwarden.reports.case import write_case_report
    from hashwarden.reports.charts import write_statistics_report
    from hashwarden.reports.statistics import events_from_scan, record_events, summarise

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
    spool = out / "report" / SPOOL_NAME
    result = _scan_with_progress([case.evidence], case.bank, 31, spool=spool)
    write_case_report(result, out / "report")
    _summary(result, out / "report")
    with open_bank(case.bank) as b:
        record_events(b, demo_history())
        record_events(b, events_from_scan(result, channel="device", region="SE"))
        summary = summarise(b, date(2026, 1, 1), date.today())
    spool.unlink(missing_ok=True)
    report = write_statistics_report(summary, out / "statistics.html")
    console.print(f"statistics report (with a synthetic year of events): {report}")
