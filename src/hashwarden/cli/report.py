"""`hashwarden report`: the statistics report of what was found, where and how it spreads."""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.cli._app import console, err_console
from hashwarden.cli._options import (
    BANK_HELP,
    OldBankOpt,
    bank_given,
    choose_format,
    is_stdio,
    open_bank_first,
)
from hashwarden.errors import UsageError

FORMATS = ("html", "pdf")
_SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def report_format(given: str | None, out: Path) -> str:
    """html or pdf: as given, else by --out's suffix; a suffix naming the other format is
    refused (a file called x.pdf holding HTML opens nowhere)."""
    by_suffix = None if is_stdio(out) else _SUFFIXES.get(out.suffix.lower())
    fmt = choose_format(given, FORMATS, detected=by_suffix, default="html")
    if by_suffix is not None and by_suffix != fmt:
        raise UsageError(
            f"--format {fmt} writes {fmt.upper()}, but {out.name} is named for {by_suffix}: "
            f"name the file {out.with_suffix('.' + fmt).name}, or give --format {by_suffix}"
        )
    return fmt


def report_command(
    start: Annotated[str, typer.Option("--from", metavar="DATE", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", metavar="DATE", help="Last day (YYYY-MM-DD).")],
    bank: Annotated[str | None, typer.Argument(metavar="BANK", help=BANK_HELP)] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", help="The report file to write ('-': standard output)."
        ),
    ] = Path("-"),
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="html or pdf, any case. Default: from --out's suffix, else html.",
            show_default=False,
        ),
    ] = None,
    old_bank: OldBankOpt = None,
) -> None:
    """Charts and tables of recorded detections by channel, category, time and region."""
    from hashwarden.reports.charts import write_statistics_report
    from hashwarden.reports.statistics import summarise

    location = bank_given("report", bank, old_bank, "--from DATE --to DATE --out FILE")
    chosen = report_format(fmt, out)
    first, last = _day(start, "--from"), _day(end, "--to")
    with open_bank_first(location, readonly=True) as b:
        summary = summarise(b, first, last)
    if is_stdio(out):
        with tempfile.TemporaryDirectory() as folder:
            written = write_statistics_report(
                summary, Path(folder) / f"report.{chosen}", fmt=chosen
            )
            with written.open("rb") as stream:
                shutil.copyfileobj(stream, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    else:
        write_statistics_report(summary, out, fmt=chosen)
    (err_console if is_stdio(out) else console).print(
        f"wrote {'standard output' if is_stdio(out) else out}: {summary.detections} detections, "
        f"{summary.by_outcome['blocked']} blocked attempts",
        markup=False,
    )
