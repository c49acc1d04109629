"""`hashwarden match`: one hash looked up in a bank."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hashwarden.cli._app import console
from hashwarden.cli._options import (
    BANK_HELP,
    JsonOpt,
    Md5Opt,
    OldBankOpt,
    PdqOpt,
    Sha1Opt,
    Sha256Opt,
    bank_given,
    open_bank_first,
    signals_given,
)
from hashwarden.errors import EXIT_MATCHES


def match_command(
    bank: Annotated[str | None, typer.Argument(metavar="BANK", help=BANK_HELP)] = None,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    threshold: Annotated[
        int, typer.Option(min=0, max=256, metavar="BITS", help="PDQ distance.")
    ] = 31,
    exclude_disputed: Annotated[
        bool, typer.Option(help="Entries more organisations dispute than confirm never match.")
    ] = False,
    as_json: JsonOpt = False,
    old_bank: OldBankOpt = None,
) -> None:
    """Look one hash up in the bank.

    Exit 0: no match; 1: matched (known-good sets are named, and are not matches)."""
    from hashwarden.index.small import open_matcher

    location = bank_given("match", bank, old_bank, "--md5|--sha1|--sha256|--pdq VALUE")
    signals = {s.kind: s.value for s in signals_given(md5=md5, sha1=sha1, sha256=sha256, pdq=pdq)}
    with open_bank_first(location, readonly=True) as b:
        matcher = open_matcher(b, threshold=threshold, exclude_disputed=exclude_disputed)
        result = matcher.match(signals)
    if as_json:
        print(
            json.dumps(
                {
                    "query": signals,
                    "matches": [m.to_json() for m in result.matches],
                    "known_good": result.known_good,
                }
            )
        )
    else:
        for m in result.matches:
            console.print(
                f"entry {m.entry}  {m.kind} distance {m.distance}  {m.category}"
                f"{'  series ' + m.series if m.series else ''}",
                markup=False,
            )
        for name in result.known_good:
            console.print(f"known good: {name}", markup=False)
        if not result.matches and not result.known_good:
            console.print("no match")
    if result.matches:
        raise typer.Exit(EXIT_MATCHES)
