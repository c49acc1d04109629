"""`hashwarden retro`: stored cases matched against the hashes banked since."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hashwarden.cli._app import console
from hashwarden.cli._options import BankArg, CasesOpt, ClusterOpt, open_bank_first
from hashwarden.cli.scan import _record

if TYPE_CHECKING:
    from hashwarden.cases import RetroResult
    from hashwarden.reports.statistics import Event


def retro_command(
    bank: BankArg,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the report.")],
    since: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="VERSION",
            help="Entries added or changed after this bank version (default: since the last"
            " retro-hunt of each case with this bank, else since its scan).",
        ),
    ] = None,
    case: Annotated[
        list[str] | None,
        typer.Option("--case", metavar="NAME", help="Only this case (repeatable; default: all)."),
    ] = None,
    threshold: Annotated[
        int, typer.Option(min=0, max=128, metavar="BITS", help="PDQ match distance.")
    ] = 31,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a report already in --out.")
    ] = False,
    record_stats: Annotated[
        bool, typer.Option(help="Record the new matches (counts only) in the bank's statistics.")
    ] = True,
    cases: CasesOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Match stored cases against the hashes banked since: new hits per case.

    Writes retro.json and retro.html into --out. Exit codes: 0 nothing new matched, 1 new
    matches found, 4 no bank, case store or case, 8 the --cluster scheduler cannot be reached,
    9 --out holds a report already (see --force).
    """
    code = run_retro(
        bank,
        out,
        since=since,
        case=case,
        threshold=threshold,
        force=force,
        record_stats=record_stats,
        cases=cases,
        cluster=cluster,
    )
    raise typer.Exit(code)


def run_retro(
    bank: str,
    out: Path,
    *,
    since: int | None = None,
    case: list[str] | None = None,
    threshold: int = 31,
    force: bool = False,
    record_stats: bool = True,
    cases: Path | None = None,
    cluster: str | None = None,
) -> int:
    """Hunt, write the report, print the summary, record statistics; the exit code."""
    from hashwarden.cases import CaseStore, retro_hunt, run_locally, store_location
    from hashwarden.cases.report import prepare_out, write_retro_report
    from hashwarden.cli._progress import bar_on_stderr

    with (
        open_bank_first(bank, readonly=True) as b,
        CaseStore.open(store_location(bank, cases)) as store,
        ExitStack() as stack,
    ):
        prepare_out(out, force=force)
        runner = run_locally
        if cluster is not None:
            from hashwarden.cluster import connect

            runner = stack.enter_context(connect(cluster)).run_parts
        bar = stack.enter_context(bar_on_stderr())

        def progress(parts: int) -> Callable[[], None]:
            task = bar.add_task("retro-hunting", total=parts)
            return lambda: bar.advance(task)

        result = retro_hunt(
            b,
            store,
            since=since,
            cases=case,
            threshold=threshold,
            runner=runner,
            progress=progress,
        )
    write_retro_report(result, out)
    _summary(result, out)
    if record_stats and result.matched:
        _record(bank, _events(result))
    return result.exit_code


def retro_after_import(bank: str, out: Path) -> int:
    """`--retro DIR` of `bundle import` and `sync pull`: hunt every stored case (a report in
    DIR is replaced: the hunt runs after every import); nothing to do without a case store."""
    from hashwarden.cases import store_location

    if not (store_location(bank) / "cases.db").exists():
        console.print("no case store: nothing to retro-hunt", markup=False)
        return 0
    return run_retro(bank, out, force=True)


def _summary(result: RetroResult, out: Path) -> None:
    console.print(
        f"{result.entries} entries new or changed since the last hunt; bank version"
        f" {result.version}",
        markup=False,
    )
    for name, found in result.files.items():
        console.print(f"  {name}: {len(found)} newly matched files", markup=False)
    console.print(f"report: {out / 'retro.html'}  (also retro.json)", markup=False)


def _events(result: RetroResult) -> list[Event]:
    from hashwarden.reports.statistics import CHANNELS, Event

    events = []
    for name, found in result.files.items():
        origin = result.origins.get(name, {})
        channel = origin.get("channel") if origin.get("channel") in CHANNELS else "device"
        for f in found:
            m = f["match"]
            events.append(
                Event(
                    channel=str(channel),
                    outcome="known",
                    category=m["category"],
                    series=m["series"],
                    victim_identified=m["victim_identified"],
                    region=origin.get("region"),
                )
            )
    return events
