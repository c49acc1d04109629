"""`hashwarden report`: the statistics report of what was found, where and how it spreads."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.bank import open_bank
from hashwarden.cli._app import console
from hashwarden.errors import UsageError
from hashwarden.reports.charts import write_statistics_report
from hashwarden.reports.statistics import summarise


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def report_command(
    bank: Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")],
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", help="The report file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
) -> None:
    """Charts and tables of recorded detections by channel, category, time and region."""
    if fmt not in ("html", "pdf"):
        raise UsageError(f"--format must be html or pdf, not {fmt!r}")
    with open_bank(bank, readonly=True) as b:
        summary = summarise(b, _day(start, "--from"), _day(end, "--to"))
    write_statistics_report(summary, out, fmt=fmt)
    console.print(
        f"wrote {out}: {summary.detections} detections, "
        f"{summary.by_outcome['blocked']} blocked attempts"
    )
