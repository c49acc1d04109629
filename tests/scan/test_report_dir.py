"""A second scan into the same --out is refused before any work unless --force is given: a
previous case report is never overwritten without a word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank
from hashwarden.cli import app
from hashwarden.errors import ConflictError
from hashwarden.reports.case import REPORT_FILES, prepare_report_dir


def _case(tmp_path: Path, name: str, text: str) -> Path:
    case = tmp_path / name
    case.mkdir()
    (case / "note.txt").write_text(text)
    return case


def test_a_second_scan_into_the_same_out_is_refused_unless_forced(
    tmp_path: Path, bank: Bank, cli_runner: CliRunner
) -> None:
    out = tmp_path / "report"
    first = _case(tmp_path, "first", "first case")
    common = ["--bank", str(bank.path), "--out", str(out), "--no-record-stats", "--workers", "1"]
    r = cli_runner.invoke(app, ["scan", str(first), *common])
    assert r.exit_code == 0, r.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"report.json", "report.csv", "report.html", "manifest.sha256"}

    second = _case(tmp_path, "second", "second case")
    r = cli_runner.invoke(app, ["scan", str(second), *common])
    assert r.exit_code == ConflictError.exit_code == 9, r.output
    assert "holds a report already" in r.output and "--force" in r.output
    assert "Traceback" not in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "nothing written"

    r = cli_runner.invoke(app, ["scan", str(second), *common, "--force"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["scan"]["inputs"] == [str(second)]


def test_the_check_comes_before_any_work(tmp_path: Path, bank: Bank, cli_runner: CliRunner) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("an earlier report")
    case = _case(tmp_path, "case", "text")
    args = ["scan", str(case), "--bank", str(bank.path), "--out", str(out), "--workers", "1"]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 9, r.output
    # The records are spooled into --out from the first file hashed: none were.
    assert sorted(p.name for p in out.iterdir()) == ["report.html"], "the scan started"
    assert (out / "report.html").read_text() == "an earlier report"


def test_an_interrupted_scan_is_not_overwritten_either(
    tmp_path: Path, bank: Bank, cli_runner: CliRunner
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / ".records.jsonl").write_text('{"path": "case/a.txt", "status": "unknown"}\n')
    case = _case(tmp_path, "case", "text")
    args = ["scan", str(case), "--bank", str(bank.path), "--out", str(out), "--no-record-stats"]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 9 and "interrupted scan" in r.output, r.output
    assert cli_runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_an_empty_or_unrelated_folder_is_used_as_is(
    tmp_path: Path, bank: Bank, cli_runner: CliRunner
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "case-notes.txt").write_text("the investigator's own notes")
    case = _case(tmp_path, "case", "text")
    args = ["scan", str(case), "--bank", str(bank.path), "--out", str(out), "--no-record-stats"]
    assert cli_runner.invoke(app, args).exit_code == 0
    assert (out / "case-notes.txt").read_text() == "the investigator's own notes"
    assert (out / "report.json").is_file()


def test_force_removes_the_earlier_report_before_the_scan_starts(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    for name in [*REPORT_FILES, ".records.jsonl", "case-notes.txt"]:
        (out / name).write_text("earlier")
    with pytest.raises(ConflictError, match="holds a report already"):
        prepare_report_dir(out, ".records.jsonl")
    prepare_report_dir(out, ".records.jsonl", force=True)
    assert [p.name for p in out.iterdir()] == ["case-notes.txt"]
    prepare_report_dir(tmp_path / "not-yet-made", ".records.jsonl")  # nothing to refuse


def test_a_report_file_that_cannot_be_removed_is_a_message(tmp_path: Path) -> None:
    out = tmp_path / "report"
    (out / "report.json").mkdir(parents=True)
    with pytest.raises(ConflictError, match="cannot remove"):
        prepare_report_dir(out, ".records.jsonl", force=True)
