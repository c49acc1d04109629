"""Each organisation's category is kept; the bank's is the most severe undisputed one."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.index import BankMatcher
from hashwarden.signals import Signal

MD5 = "d35c785545392755e7e4164457657269"


def _view(org: str, category: str) -> NewEntry:
    return NewEntry([Signal("md5", MD5)], category, source=org)


def test_consensus_conflicts_and_votes(bank: Bank) -> None:
    bank.entries.add_many([_view("hotline-uk", "csam-c")], detail={"file": "uk.csv"})
    (entry_id,) = bank.entries.lookup("md5", [MD5]).values()
    bank.entries.add_many([_view("police-se", "csam-a")], detail={"file": "se.json"})
    assert bank.entries.get(entry_id).category == "csam-a"  # the most severe view wins
    assert [p[:3] for p in bank.provenance.claims(entry_id)] == [
        ("hotline-uk", "csam-c", "uk.csv"),
        ("police-se", "csam-a", "se.json"),
    ]
    assert bank.provenance.conflicts() == {
        entry_id: {"hotline-uk": "csam-c", "police-se": "csam-a"}
    }
    assert bank.provenance.vote(entry_id, "police-se", "dispute", reason="wrong image") == "csam-c"
    assert bank.provenance.disputed() == {entry_id}
    bank.provenance.vote(entry_id, "hotline-uk", "confirm")
    bank.provenance.vote(entry_id, "ngo-x", "confirm")
    assert bank.provenance.disputed() == set()
    assert bank.verify().ok


def test_disputed_entries_can_be_left_out_of_matching(bank: Bank) -> None:
    entry_id = bank.entries.add(_view("hotline-uk", "csam-b"))
    bank.provenance.vote(entry_id, "police-se", "dispute")
    assert BankMatcher(bank).match({"md5": MD5}).matches
    assert BankMatcher(bank, exclude_disputed=True).match({"md5": MD5}).matches == []


def test_conflicts_and_vote_cli(tmp_path: Path, cli_runner: CliRunner) -> None:
    path = tmp_path / "b.db"
    with create_bank(path) as b:
        b.entries.add_many([_view("a", "csam-b")])
        b.entries.add_many([_view("b", "cgi")])
    result = cli_runner.invoke(app, ["bank", "conflicts", str(path), "--json"])
    assert json.loads(result.stdout) == {
        "1": {"consensus": "csam-b", "organisations": {"a": "csam-b", "b": "cgi"}}
    }
    result = cli_runner.invoke(app, ["bank", "vote", str(path), "1", "--org", "a", "--dispute"])
    assert result.exit_code == 0 and "now cgi" in result.output
    result = cli_runner.invoke(app, ["bank", "vote", str(path), "9", "--org", "a"])
    assert result.exit_code == 4
