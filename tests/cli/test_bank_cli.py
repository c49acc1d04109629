"""`hashwarden bank`: remove, re-imports that say what they did, nothing identifying exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cli import app
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

MD5 = "d35c785545392755e7e4164457657269"
SHA1 = "ea45d7166b30f98aac6af52f952193ce3083cb4c"
FILE_NAME = "holiday-of-jane-roe-2019.jpg"
NOTE = "seized from the laptop of Jane Roe"


def _bank(tmp_path: Path, runner: CliRunner) -> Path:
    path = tmp_path / "b.db"
    assert runner.invoke(app, ["bank", "init", str(path)]).exit_code == 0
    return path


def test_remove_by_hash_value(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    r = cli_runner.invoke(app, ["bank", "add", str(bank), "--md5", MD5, "--sha1", SHA1, "-c", "B"])
    assert r.exit_code == 0, r.output
    r = cli_runner.invoke(
        app, ["bank", "remove", str(bank), "--sha1", SHA1.upper(), "--reason", "false positive"]
    )
    assert r.exit_code == 0, r.output
    assert "removed entry 1" in r.output
    with open_bank(bank, readonly=True) as b:
        assert b.stats().entries == 0
        event = list(b.audit.events())[-1]
        assert event.action == "entry.remove" and event.detail["reason"] == "false positive"
    r = cli_runner.invoke(app, ["bank", "remove", str(bank), "--md5", MD5])
    assert r.exit_code == 4 and "not in the bank" in r.output
    assert cli_runner.invoke(app, ["bank", "verify", str(bank)]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--md5", "xyz"], "md5"),
        ([], "exactly one of"),
        (["--md5", MD5, "--sha1", SHA1], "exactly one of"),
    ],
)
def test_remove_usage_errors(
    tmp_path: Path, cli_runner: CliRunner, args: list[str], message: str
) -> None:
    bank = _bank(tmp_path, cli_runner)
    r = cli_runner.invoke(app, ["bank", "remove", str(bank), *args])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_a_removal_travels_in_the_next_bundle(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    cli_runner.invoke(app, ["bank", "add", str(bank), "--md5", MD5, "-c", "B"])
    keys = ["keys", "generate", "hotline-a", "--folder", str(tmp_path)]
    assert cli_runner.invoke(app, keys).exit_code == 0
    with open_bank(bank, readonly=True) as b:
        since = b.audit.head()[0]
    assert cli_runner.invoke(app, ["bank", "remove", str(bank), "--md5", MD5]).exit_code == 0
    out = tmp_path / "delta.json"
    args = ["bundle", "export", str(bank), "--sign", str(tmp_path / "hotline-a.key")]
    r = cli_runner.invoke(app, [*args, "--since", str(since), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["body"]["removals"] == [[["md5", MD5]]]


def test_re_import_with_a_category_says_what_it_did(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(f"{i:032x}" for i in range(1, 4)) + "\n")
    imp = ["bank", "import", str(bank), str(listing)]
    r = cli_runner.invoke(app, imp)
    assert r.exit_code == 0 and "imported 3 new entries" in r.output, r.output
    r = cli_runner.invoke(app, [*imp, "-c", "A"])
    assert r.exit_code == 0, r.output
    assert "imported 0 new entries; 3 already in the bank" in r.output
    assert "3 updated, 0 kept, 0 conflicting" in r.output
    r = cli_runner.invoke(app, [*imp, "-c", "A"])
    assert "0 updated, 3 kept, 0 conflicting" in r.output, r.output
    r = cli_runner.invoke(app, [*imp, "-c", "C"])
    assert "0 updated, 0 kept, 3 conflicting" in r.output, r.output
    with open_bank(bank, readonly=True) as b:
        assert b.stats().entries_by_category == {"csam-a": 3}


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    case.mkdir()
    (case / FILE_NAME).write_bytes(jpeg_bytes(synthetic_photo(5)))
    return case


def test_add_files_again_with_a_category_says_what_it_did(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = _bank(tmp_path, cli_runner)
    case = _case(tmp_path)
    r = cli_runner.invoke(app, ["bank", "add-files", str(bank), str(case)])
    assert r.exit_code == 0 and "added 1 new entry" in r.output, r.output
    r = cli_runner.invoke(app, ["bank", "add-files", str(bank), str(case), "-c", "B"])
    assert r.exit_code == 0, r.output
    assert "1 already in the bank (category: 1 updated, 0 kept, 0 conflicting)" in r.output


@pytest.mark.parametrize("fmt", ["csv", "vics", "hma", "plain", "icse"])
def test_exports_keep_file_names_and_notes_local(
    tmp_path: Path, cli_runner: CliRunner, fmt: str
) -> None:
    bank = _bank(tmp_path, cli_runner)
    r = cli_runner.invoke(app, ["bank", "add-files", str(bank), str(_case(tmp_path)), "-c", "A"])
    assert r.exit_code == 0, r.output
    r = cli_runner.invoke(app, ["bank", "add", str(bank), "--md5", MD5, "--note", NOTE])
    assert r.exit_code == 0, r.output
    with open_bank(bank, readonly=True) as b:  # the bank keeps what it holds
        assert [e.extra.get("file_name") for e in b.entries.all()] == [FILE_NAME, None]
    out = tmp_path / f"out.{fmt}"
    export = ["bank", "export", str(bank), "--format", fmt, "--out", str(out)]
    assert cli_runner.invoke(app, export).exit_code == 0
    text = out.read_text()
    assert FILE_NAME not in text and "Jane Roe" not in text
    assert MD5 in text.lower()
    r = cli_runner.invoke(app, [*export, "--include-file-names", "--include-notes"])
    assert r.exit_code == 0, r.output
    if fmt in ("csv", "vics"):
        assert FILE_NAME in out.read_text()
    if fmt == "csv":
        assert NOTE in out.read_text()
