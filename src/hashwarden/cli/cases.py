"""`hashwarden cases ...`: the hashes scans keep per case (never content), for `retro`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import BankArg, CasesOpt, JsonOpt, open_bank_first

app = new_typer("The case store: list, show and delete the hashes scans kept per case.")

CaseArg = Annotated[str, typer.Argument(metavar="NAME", help="The case.", show_default=False)]


@app.command("list")
def cases_list(bank: BankArg, cases: CasesOpt = None, as_json: JsonOpt = False) -> None:
    """List the cases kept: files, scans, first and last scan."""
    from hashwarden.cases import CaseStore, store_location

    with CaseStore.open(store_location(bank, cases), readonly=True) as store:
        summaries = [store.summary(name).to_json() for name in store.case_names()]
    if as_json:
        print(json.dumps(summaries, indent=1, ensure_ascii=False))
        return
    for s in summaries:
        console.print(
            f"{s['case']}: {s['files']} files in {len(s['scans'])} scans,"
            f" {s['first_scan']} to {s['last_scan']}",
            markup=False,
        )


@app.command("show")
def cases_show(
    bank: BankArg, name: CaseArg, cases: CasesOpt = None, as_json: JsonOpt = False
) -> None:
    """Show a case: its scans (when, what, against which bank version) and files by status."""
    from hashwarden.cases import CaseStore, store_location

    with CaseStore.open(store_location(bank, cases), readonly=True) as store:
        summary = store.summary(name).to_json()
    if as_json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
        return
    console.print(f"case {summary['case']}: {summary['files']} files", markup=False)
    for status, n in summary["statuses"].items():
        console.print(f"  {status}: {n}", markup=False)
    for scan in summary["scans"]:
        console.print(
            f"  scan {scan['scan']} of {', '.join(scan['inputs'])}: {scan['files']} files,"
            f" kept {scan['kept']}, bank version {scan['bank_version']}",
            markup=False,
        )


@app.command("delete")
def cases_delete(
    bank: BankArg,
    name: CaseArg,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why (kept in the audit logs).")
    ] = None,
    cases: CasesOpt = None,
) -> None:
    """Delete a case's hashes; recorded in the bank's audit log and the store's log."""
    from hashwarden.cases import CaseStore, store_location

    with (
        open_bank_first(bank) as b,
        CaseStore.open(store_location(bank, cases)) as store,
        b.db.transaction(),
    ):
        summary = store.delete(name, reason=reason)
        detail = {"case": name, "files": summary.files, "store": str(store.root)}
        b.audit.record("cli", "case.delete", detail | ({"reason": reason} if reason else {}))
    console.print(f"deleted case {name!r}: {summary.files} files' hashes", markup=False)
