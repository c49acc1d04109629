"""`hashwarden match`: one hash, or one file's hashes, looked up in a bank."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    check_paths,
    open_bank_first,
    signals_given,
)
from hashwarden.errors import EXIT_MATCHES, UsageError

if TYPE_CHECKING:
    from hashwarden.index import MatchResult
    from hashwarden.index._matching import Matcher


def match_command(
    bank: Annotated[str | None, typer.Argument(metavar="BANK", help=BANK_HELP)] = None,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="Hash this file and match it as `scan` does (turns, trims, views).",
        ),
    ] = None,
    threshold: Annotated[
        int, typer.Option(min=0, max=256, metavar="BITS", help="PDQ distance.")
    ] = 31,
    exclude_disputed: Annotated[
        bool, typer.Option(help="Entries more organisations dispute than confirm never match.")
    ] = False,
    as_json: JsonOpt = False,
    old_bank: OldBankOpt = None,
) -> None:
    """Look one hash, or a file's hashes, up in the bank.

    Exit 0: no match; 1: matched (known-good sets are named, and are not matches); 4: the
    file is not there."""
    from hashwarden.index.small import open_matcher

    usage = "--md5|--sha1|--sha256|--pdq VALUE | --file PATH"
    location = bank_given("match", bank, old_bank, usage)
    given = {"md5": md5, "sha1": sha1, "sha256": sha256, "pdq": pdq}
    if file is not None:
        if any(given.values()):
            raise UsageError("give --file or hash values, not both")
        file = check_paths([file])[0]
    else:
        signals = {s.kind: s.value for s in signals_given(**given)}
    with open_bank_first(location, readonly=True) as b:
        matcher = open_matcher(b, threshold=threshold, exclude_disputed=exclude_disputed)
        if file is None:
            result = matcher.match(signals)
        else:
            signals, result = _match_file(matcher, file)
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
                f"{'  series ' + m.series if m.series else ''}"
                f"{'  ' + m.orientation if m.orientation != 'original' else ''}"
                f"{'  view ' + m.view if m.view else ''}",
                markup=False,
            )
        for name in result.known_good:
            console.print(f"known good: {name}", markup=False)
        if not result.matches and not result.known_good:
            console.print("no match")
    if result.matches:
        raise typer.Exit(EXIT_MATCHES)


def _match_file(matcher: Matcher, path: Path) -> tuple[dict[str, str], MatchResult]:
    """(the file's signals, its matches): hashed as a scan hashes a file, with its turned and
    trimmed variants and, where the bank has views, its views."""
    from hashwarden.errors import DataError
    from hashwarden.signals import hash_file
    from hashwarden.signals.views import QUERY_VIEWS

    try:
        hashes = hash_file(
            path,
            variants=True,
            views=QUERY_VIEWS if matcher.has_views else (),
            extra_kinds=[],
        )
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    signals = hashes.signals()
    result = matcher.match(
        signals,
        pdq_quality=hashes.pdq_quality,
        pdq_variants=hashes.pdq_variants,
        pdq_views=hashes.pdq_views,
    )
    return signals, result
