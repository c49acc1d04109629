"""`hashwarden p2p match`: match P2P observation logs and torrents against the bank."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.cli._app import console, new_typer
from hashwarden.cli._options import (
    OldBankOpt,
    bank_and_rest,
    check_paths,
    open_bank_first,
)
from hashwarden.errors import (
    EXIT_CLEAN,
    EXIT_ERRORS,
    EXIT_MATCHES,
    EXIT_MATCHES_AND_ERRORS,
    UsageError,
)

app = new_typer("P2P identifiers: match magnet links, ed2k links and torrents against the bank.")


@app.command("match")
def match(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="BANK FILE...",
            help="The bank, then logs (a link or identifier a line) or .torrent files.",
            show_default=False,
        ),
    ],
    exclude_disputed: Annotated[
        bool, typer.Option(help="Entries more organisations dispute than confirm never match.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    record_stats: Annotated[
        bool, typer.Option(help="Record matched items (counts only) in the bank's statistics.")
    ] = False,
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="Country or region, for statistics.")
    ] = None,
    old_bank: OldBankOpt = None,
) -> None:
    """Match the identifiers in P2P logs and torrents against the bank, as `match` does: known-good
    sets are named, disputed entries left out with --exclude-disputed.

    Exit 0: nothing matched; 1: matches; 6: some items malformed; 7: both. Exit 4 when a file
    or the bank is not there (before reading anything)."""
    from hashwarden.index import BankMatcher
    from hashwarden.p2p.observations import read_observations
    from hashwarden.reports.statistics import Event, record_events

    bank, names = bank_and_rest("p2p match", args, old_bank, "FILE...")
    if not names:
        raise UsageError("give at least one log or .torrent file after the bank")
    files = check_paths(Path(name) for name in names)
    matched = errors = 0
    events: list[Event] = []
    with open_bank_first(bank, readonly=True) as b:
        matcher = BankMatcher(b, exclude_disputed=exclude_disputed)
        for path in files:
            for obs in read_observations(path):
                found: list[dict[str, Any]] = []
                known_good: set[str] = set()
                for kind, values in obs.identifiers.items():
                    for value in values:
                        result = matcher.match({kind: value})
                        known_good.update(result.known_good)
                        found.extend(
                            {
                                "entry": m.entry,
                                "kind": m.kind,
                                "value": m.value,
                                "category": m.category,
                                "series": m.series,
                                "victim_identified": m.victim_identified,
                            }
                            for m in result.matches
                        )
                matched += bool(found)
                if found:
                    first = found[0]
                    events.append(
                        Event(
                            "p2p",
                            "known",
                            first["category"],
                            first["series"],
                            first["victim_identified"],
                            region,
                        )
                    )
                errors += obs.error is not None
                if as_json:
                    record: dict[str, Any] = {
                        "source": obs.source,
                        "identifiers": obs.identifiers,
                        "matches": found,
                        "known_good": sorted(known_good),
                    }
                    if obs.error:
                        record["error"] = obs.error
                    print(json.dumps(record), flush=True)
                elif obs.error:
                    console.print(f"{obs.source}: error: {obs.error}", markup=False)
                else:
                    if found:
                        hits = ", ".join(
                            f"entry {m['entry']} ({m['kind']}, {m['category']})" for m in found
                        )
                        console.print(f"{obs.source}: MATCH {hits}", markup=False)
                    if known_good:
                        sets = ", ".join(sorted(known_good))
                        console.print(f"{obs.source}: known good: {sets}", markup=False)
    if record_stats:
        with open_bank_first(bank) as b:
            record_events(b, events)
    if not as_json:
        console.print(f"{matched} matched item(s), {errors} malformed")
    if matched:
        raise typer.Exit(EXIT_MATCHES_AND_ERRORS if errors else EXIT_MATCHES)
    raise typer.Exit(EXIT_ERRORS if errors else EXIT_CLEAN)
