"""`hashwarden p2p match`: match P2P observation logs and torrents against the bank."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.bank import open_bank
from hashwarden.cli._app import console, new_typer
from hashwarden.errors import NotFoundError
from hashwarden.p2p.observations import read_observations
from hashwarden.reports.statistics import Event, record_events

app = new_typer("P2P identifiers: match magnet links, ed2k links and torrents against the bank.")


@app.command("match")
def match(
    files: Annotated[
        list[Path], typer.Argument(help="Logs (a link or identifier a line) or .torrent files.")
    ],
    bank: Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    record_stats: Annotated[
        bool, typer.Option(help="Record matched items (counts only) in the bank's statistics.")
    ] = False,
    region: Annotated[str | None, typer.Option(help="Country or region, for statistics.")] = None,
) -> None:
    """Exit 0: nothing matched; 1: matches; 6: some items malformed; 7: both."""
    for path in files:
        if not path.exists():
            raise NotFoundError(f"no such file: {path}")
    matched = errors = 0
    events: list[Event] = []
    with open_bank(bank, readonly=True) as b:
        for path in files:
            for obs in read_observations(path):
                found: list[dict[str, Any]] = []
                for kind, values in obs.identifiers.items():
                    owners = b.entries.lookup(kind, values)
                    entries = b.entries.by_id(owners.values())
                    for value, entry_id in owners.items():
                        entry = entries[entry_id]
                        found.append(
                            {
                                "entry": entry_id,
                                "kind": kind,
                                "value": value,
                                "category": entry.category,
                                "series": entry.series,
                                "victim_identified": entry.victim_identified,
                            }
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
                    record = {
                        "source": obs.source,
                        "identifiers": obs.identifiers,
                        "matches": found,
                    }
                    if obs.error:
                        record["error"] = obs.error
                    print(json.dumps(record), flush=True)
                elif obs.error:
                    console.print(f"{obs.source}: error: {obs.error}")
                elif found:
                    hits = ", ".join(
                        f"entry {m['entry']} ({m['kind']}, {m['category']})" for m in found
                    )
                    console.print(f"{obs.source}: MATCH {hits}")
    if record_stats:
        with open_bank(bank) as b:
            record_events(b, events)
    if not as_json:
        console.print(f"{matched} matched item(s), {errors} malformed")
    raise typer.Exit((7 if errors else 1) if matched else (6 if errors else 0))
