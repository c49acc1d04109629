"""The case store: what each scan saw, hashes only, per case; listed, shown, deleted (audited)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cases import CaseStore, store_location
from hashwarden.errors import NotFoundError, UsageError
from hashwarden.scan import FileRecord

from .conftest import Evidence, run


def _scan(runner: CliRunner, ev: Evidence, out: Path, *more: object) -> int:
    code, output = run(runner, "scan", ev.bank, ev.folder, "--out", out, *more)
    assert code in (0, 1), output
    return code


def test_a_scan_keeps_each_files_hashes_path_size_and_status(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _scan(cli_runner, evidence, tmp_path / "case-17")
    with CaseStore.open(store_location(evidence.bank), readonly=True) as store:
        assert store.case_names() == ["case-17"]  # named after the report folder
        summary = store.summary("case-17")
        rows = store.db.query("SELECT id, path, size FROM files ORDER BY path")
        files = store.files([r[0] for r in rows])
    assert summary.files == 4
    assert summary.statuses == {"unknown": 4}  # the text file too: hashed, not banked
    report = json.loads((tmp_path / "case-17" / "report.json").read_text())
    by_path = {f["path"]: f for f in report["files"]}
    for kept in files.values():
        scanned = by_path[kept["path"]]
        assert kept["size"] == scanned["size"]
        assert kept["status"] == scanned["status"]
        assert kept["hashes"].get("md5") == scanned["md5"]
        assert kept["hashes"].get("sha256") == scanned["sha256"]
        assert kept["hashes"].get("pdq") == scanned["pdq"]
    turned = next(f for f in files.values() if f["path"].endswith("b.jpg"))
    assert {"pdq:rotate90", "pdq:rotate270", "pdq:flip_horizontal"} <= set(turned["hashes"])


def test_the_store_holds_no_content_and_only_its_owner_reads_it(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _scan(cli_runner, evidence, tmp_path / "r")
    root = store_location(evidence.bank)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "cases.db").stat().st_mode) == 0o600
    stored = b"".join(p.read_bytes() for p in root.iterdir() if p.is_file())
    for path in evidence.folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for start in range(0, len(content) - 32, max(1, len(content) // 8)):
                assert content[start : start + 32] not in stored, path


def test_no_keep_hashes_keeps_nothing_and_case_names_the_case(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _scan(cli_runner, evidence, tmp_path / "r1", "--no-keep-hashes")
    assert not store_location(evidence.bank).exists()
    other = tmp_path / "elsewhere"
    _scan(cli_runner, evidence, tmp_path / "r2", "--case", "Operation X", "--cases", other)
    _scan(cli_runner, evidence, tmp_path / "r3", "--case", "Operation X", "--cases", other)
    with CaseStore.open(other) as store:
        assert store.case_names() == ["Operation X"]
        summary = store.summary("Operation X")
    assert (summary.files, len(summary.scans)) == (8, 2)


def test_an_aborted_scan_leaves_nothing_a_hunt_would_read(tmp_path: Path) -> None:
    with CaseStore.open(tmp_path / "store", create=True) as store:
        writer = store.writer("c")
        writer.add(FileRecord("x.jpg", "unknown", 3, md5="0" * 32), None)
        writer.abort()
        kept = store.writer("c")
        kept.add(FileRecord("y.jpg", "unknown", 3, md5="1" * 32), None)
        kept.close({"bank_fingerprint": "id:5:abc"})
        half = store.writer("c")  # a scan still running: its files are not read
        half.add(FileRecord("z.jpg", "unknown", 3, md5="2" * 32), None)
        half._flush()
        case_id = store.case_id("c")
        lo, hi = store.file_range([case_id])
        found = store.hashes("md5", ["0" * 32, "1" * 32, "2" * 32], [case_id], lo, hi)
        assert [h.value for h in found] == ["1" * 32]
        assert store.summary("c").scans[0]["bank_version"] == 5


def test_cases_list_show_and_an_audited_delete(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    _scan(cli_runner, evidence, tmp_path / "r", "--case", "k1")
    code, out = run(cli_runner, "cases", "list", evidence.bank, "--json")
    assert code == 0 and json.loads(out)[0]["case"] == "k1"
    code, out = run(cli_runner, "cases", "show", evidence.bank, "k1")
    assert code == 0 and "4 files" in out
    assert run(cli_runner, "cases", "show", evidence.bank, "nope")[0] == 4
    code, out = run(cli_runner, "cases", "delete", evidence.bank, "k1", "--reason", "closed")
    assert code == 0, out
    with CaseStore.open(store_location(evidence.bank)) as store:
        assert store.case_names() == []
        assert store.db.query("SELECT COUNT(*) FROM hashes") == [(0,)]
        events = [e for e in store.log.events() if e.action == "case.delete"]
        assert store.log.verify() == []
    assert events[0].detail == {"case": "k1", "files": 4, "scans": 1, "reason": "closed"}
    with open_bank(evidence.bank, readonly=True) as bank:
        audit = [e for e in bank.audit.events() if e.action == "case.delete"]
    assert audit and audit[0].detail["reason"] == "closed"


def test_where_the_store_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_location(tmp_path / "b.db") == tmp_path / "b.db.cases"
    assert store_location("postgresql://h/db").parts[-2:] == ("hashwarden", "cases")
    assert store_location(tmp_path / "b.db", tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("HASHWARDEN_CASES", str(tmp_path / "env"))
    assert store_location(tmp_path / "b.db") == tmp_path / "env"
    with pytest.raises(NotFoundError):
        CaseStore.open(tmp_path / "none")
    with pytest.raises(UsageError):
        CaseStore.open(tmp_path / "s", create=True).writer("bad\nname")


def test_a_store_that_cannot_be_made_stops_the_scan_before_any_work(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    out = tmp_path / "r"
    code, output = run(
        cli_runner,
        "scan",
        evidence.bank,
        evidence.folder,
        "--out",
        out,
        "--cases",
        not_a_folder / "s",
    )
    assert code == 2 and "--no-keep-hashes" in output
    assert not out.exists()
