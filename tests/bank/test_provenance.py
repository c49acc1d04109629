"""Each organisation's category is kept; the bank's is the most severe undisputed one."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.bank import NewEntry, SqliteBank
from hashwarden.cli import app
from hashwarden.index import BankMatcher
from hashwarden.signals import Signal

MD5 = "d35c785545392755e7e4164457657269"


def _view(org: str, category: str) -> NewEntry:
    return NewEntry([Signal("md5", MD5)], category, source=org)


def test_consensus_conflicts_and_votes(bank: SqliteBank) -> None:
    bank.add_entries([_view("hotline-uk", "csam-c")], detail={"file": "uk.csv"})
    (entry_id,) = bank.lookup("md5", [MD5]).values()
    bank.add_entries([_view("police-se", "csam-a")], detail={"file": "se.json"})
    assert bank.get_entry(entry_id).category == "csam-a"  # the most severe view wins
    assert [p[:3] for p in bank.provenance(entry_id)] == [
        ("hotline-uk", "csam-c", "uk.csv"),
        ("police-se", "csam-a", "se.json"),
    ]
    assert bank.conflicts() == {entry_id: {"hotline-uk": "csam-c", "police-se": "csam-a"}}
    assert bank.vote(entry_id, "police-se", "dispute", reason="wrong image") == "csam-c"
    assert bank.disputed_entry_ids() == {entry_id}
    bank.vote(entry_id, "hotline-uk", "confirm")
    bank.vote(entry_id, "ngo-x", "confirm")
    assert bank.disputed_entry_ids() == set()
    assert bank.verify().ok


def test_disputed_entries_can_be_left_out_of_matching(bank: SqliteBank) -> None:
    entry_id = bank.add_entry(_view("hotline-uk", "csam-b"))
    bank.vote(entry_id, "police-se", "dispute")
    assert BankMatcher(bank).match({"md5": MD5}).matches
    assert BankMatcher(bank, exclude_disputed=True).match({"md5": MD5}).matches == []


def test_conflicts_and_vote_cli(tmp_path: Path, cli_runner: CliRunner) -> None:
    path = tmp_path / "b.db"
    with SqliteBank.create(path) as b:
        b.add_entries([_view("a", "csam-b")])
        b.add_entries([_view("b", "cgi")])
    result = cli_runner.invoke(app, ["bank", "conflicts", str(path), "--json"])
    assert json.loads(result.stdout) == {
        "1": {"consensus": "csam-b", "organisations": {"a": "csam-b", "b": "cgi"}}
    }
    result = cli_runner.invoke(app, ["bank", "vote", str(path), "1", "--org", "a", "--dispute"])
    assert result.exit_code == 0 and "now cgi" in result.output
    result = cli_runner.invoke(app, ["bank", "vote", str(path), "9", "--org", "a"])
    assert result.exit_code == 4
