"""The scan's bounds hold for the whole scan, not per archive, and a cut is reported as such."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank
from hashwarden.cli import app
from hashwarden.reports import write_case_report
from hashwarden.scan import EXIT_CLEAN, EXIT_CUT_SHORT, FileRecord, Limits, read_items, run_scan


def nested_zip(copies: int, levels: int, leaf: bytes = b"leaf\n") -> bytes:
    """A zip of `copies` zips of `copies` zips ... `levels` deep: tiny on disk, each level
    deflated well because its copies repeat."""
    data, name = leaf, "leaf.txt"
    for level in range(1, levels + 1):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for copy in range(copies):
                archive.writestr(f"{copy}-{name}", data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    return data


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def zip_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every zip member the scan opens, counted at zipfile itself (not by the scan's own tally)."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        if (args[0] if args else kwargs.get("mode", "r")) == "r":  # not the test's own writes
            opened.append(getattr(name, "filename", str(name)))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    yield opened


def cut_records(files: list[FileRecord]) -> list[FileRecord]:
    return [f for f in files if f.limit is not None]


def test_the_hostile_nested_zip_is_bounded_by_the_scan_budget(
    tmp_path: Path, bank: Bank, zip_reads: list[str]
) -> None:
    bomb = nested_zip(16, 5)
    assert len(bomb) < 32 * 1024  # the issue's ~24 KB file: 16**5 leaves, 135,000 records
    case = tmp_path / "case"
    case.mkdir()
    (case / "nested.zip").write_bytes(bomb)
    limit = 300
    result = run_scan([case], bank.path, limits=Limits(max_members=limit), workers=1)
    files = list(result.files)
    # One record for the zip on disk, `limit` members, then at most one cut record per open
    # archive level (five) as the budget unwinds.
    assert len(files) <= 1 + limit + 5
    assert len(zip_reads) <= limit
    assert result.record["read"]["archive_members"] <= limit
    cuts = cut_records(files)
    assert cuts and all(f.limit == "max_members" for f in cuts)
    assert all(f.path.endswith("!") and f.status == "error" for f in cuts)
    assert len({f.path for f in cuts}) == len(cuts), "one record per archive, not per member"
    assert all("--max-members" in (f.error or "") for f in cuts)
    assert result.record["complete"] is False
    assert result.record["cut_short"] == {"max_members": len(cuts)}
    assert result.exit_code == EXIT_CUT_SHORT


def test_the_hostile_nested_zip_is_bounded_by_default(
    tmp_path: Path, bank: Bank, zip_reads: list[str]
) -> None:
    """The defaults stop it too: everything expanded from one archive on disk, at every depth,
    stays within max_ratio times its size (each member alone is only ~10:1)."""
    bomb = nested_zip(16, 5)
    (tmp_path / "nested.zip").write_bytes(bomb)
    result = run_scan([tmp_path / "nested.zip"], bank.path, workers=1)
    read = result.record["read"]
    assert read["expanded_bytes"] <= Limits().max_ratio * len(bomb)
    # each member counts at least MEMBER_COST against that budget: ~1,000 members, not 135,000
    assert len(zip_reads) <= read["archive_members"] <= Limits().max_ratio * len(bomb) // 4096
    assert len(result.files) <= read["archive_members"] + 1 + 5
    assert set(result.record["cut_short"]) == {"max_ratio"}
    assert result.exit_code == EXIT_CUT_SHORT


def test_expanded_bytes_are_one_budget_across_archives(tmp_path: Path, bank: Bank) -> None:
    case = tmp_path / "case"
    case.mkdir()
    for n in range(6):
        with zipfile.ZipFile(case / f"a{n}.zip", "w") as archive:  # stored: ratio 1
            for m in range(4):
                archive.writestr(f"m{m}.bin", bytes([n, m]) * 5_000)  # 10 kB each
    budget = 100_000  # room for 10 of the 24 members
    result = run_scan([case], bank.path, limits=Limits(max_expanded_bytes=budget), workers=1)
    files = list(result.files)
    members = [f for f in files if "!" in f.path and f.limit is None]
    assert len(members) == 10
    assert result.record["read"]["expanded_bytes"] <= budget
    cuts = cut_records(files)
    # the third archive is cut mid-way; the three after it are not opened: one record each
    assert [Path(f.path).name for f in cuts] == ["a2.zip!", "a3.zip!", "a4.zip!", "a5.zip!"]
    assert all(f.limit == "max_expanded_bytes" for f in cuts)
    assert "not read" in (cuts[-1].error or "")


def test_a_zip_bomb_member_is_cut_by_its_ratio(tmp_path: Path, bank: Bank) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (8 * 1024 * 1024))
        archive.writestr("note.txt", b"a note")
    result = run_scan([tmp_path / "bomb.zip"], bank.path, workers=1)
    by_path = {Path(f.path).name: f for f in result.files}
    bomb = by_path["bomb.zip!zeros.bin"]
    assert bomb.limit == "max_ratio" and "zip bomb" in (bomb.error or "")
    assert by_path["bomb.zip!note.txt"].status == "unknown"
    assert result.record["cut_short"] == {"max_ratio": 1}
    assert result.exit_code == EXIT_CUT_SHORT


def test_a_tar_gz_bomb_is_never_decompressed(tmp_path: Path, bank: Bank) -> None:
    """A compressed tar has no per-member ratio; the archive's own ratio bound stops it before
    its members are expanded."""
    data = tar_gz({f"zeros{n}.bin": b"\0" * (16 * 1024 * 1024) for n in range(4)})
    assert len(data) < 200_000
    (tmp_path / "bomb.tar.gz").write_bytes(data)
    result = run_scan([tmp_path / "bomb.tar.gz"], bank.path, workers=1)
    files = list(result.files)
    assert [Path(f.path).name for f in files] == ["bomb.tar.gz", "bomb.tar.gz!"]
    assert files[1].limit == "max_ratio" and "--max-ratio" in (files[1].error or "")
    assert result.record["read"]["expanded_bytes"] <= Limits().max_ratio * len(data)


def test_deep_nesting_stops_at_max_depth(tmp_path: Path, bank: Bank) -> None:
    (tmp_path / "deep.zip").write_bytes(nested_zip(1, 12))
    result = run_scan([tmp_path / "deep.zip"], bank.path, limits=Limits(max_depth=3), workers=1)
    paths = [f.path.split("deep.zip", 1)[1] for f in result.files]
    assert paths == [
        "",
        "!0-level11.zip",
        "!0-level11.zip!0-level10.zip",
        "!0-level11.zip!0-level10.zip!0-level9.zip",
        "!0-level11.zip!0-level10.zip!0-level9.zip!",
    ]
    last = list(result.files)[-1]
    assert last.limit == "max_depth" and "--max-depth" in (last.error or "")
    assert result.record["read"]["deepest"] == 3
    default = run_scan([tmp_path / "deep.zip"], bank.path, workers=1)
    assert default.record["read"]["deepest"] == Limits().max_depth == 8
    assert default.record["cut_short"] == {"max_depth": 1}


def test_max_records_stops_the_scan_with_one_record_naming_where(
    tmp_path: Path, bank: Bank
) -> None:
    case = tmp_path / "case"
    case.mkdir()
    for n in range(20):
        (case / f"f{n:02d}.txt").write_text(f"file {n}")
    result = run_scan([case], bank.path, limits=Limits(max_records=5), workers=1)
    files = list(result.files)
    assert len(files) == 6
    assert files[-1].path.endswith("f05.txt") and files[-1].limit == "max_records"
    assert "--max-records" in (files[-1].error or "")
    assert result.record["complete"] is False and result.exit_code == EXIT_CUT_SHORT


def test_per_archive_member_cap_reads_the_first_members(tmp_path: Path, bank: Bank) -> None:
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for n in range(30):
            archive.writestr(f"m{n:02d}.txt", f"member {n}")
    limits = Limits(max_archive_members=10)
    result = run_scan([tmp_path / "many.zip"], bank.path, limits=limits, workers=1)
    files = list(result.files)
    assert len(files) == 1 + 10 + 1
    assert files[-1].path.endswith("many.zip!") and files[-1].limit == "max_archive_members"


def test_an_archive_over_the_size_limit_is_one_cut_record(tmp_path: Path, bank: Bank) -> None:
    with zipfile.ZipFile(tmp_path / "big.zip", "w") as archive:
        archive.writestr("a.bin", b"x" * 5000)
    limits = Limits(max_archive_bytes=1000)
    result = run_scan([tmp_path / "big.zip"], bank.path, limits=limits, workers=1)
    files = list(result.files)
    assert [Path(f.path).name for f in files] == ["big.zip", "big.zip!"]
    assert files[1].limit == "max_archive_bytes"


def test_a_normal_nested_archive_is_read_completely(tmp_path: Path, bank: Bank) -> None:
    inner_zip = io.BytesIO()
    with zipfile.ZipFile(inner_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("deeper/a.txt", b"alpha " * 50)
        archive.writestr("deeper/b.txt", b"beta " * 50)
    inner_tar = tar_gz({"t/one.txt": b"one", "t/two.txt": b"two"})
    with zipfile.ZipFile(tmp_path / "case.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", b"hello")
        archive.writestr("inner.zip", inner_zip.getvalue())
        archive.writestr("inner.tar.gz", inner_tar)
    result = run_scan([tmp_path / "case.zip"], bank.path, workers=1)
    assert sorted(f.path.split("case.zip", 1)[1] for f in result.files) == [
        "",
        "!inner.tar.gz",
        "!inner.tar.gz!t/one.txt",
        "!inner.tar.gz!t/two.txt",
        "!inner.zip",
        "!inner.zip!deeper/a.txt",
        "!inner.zip!deeper/b.txt",
        "!readme.txt",
    ]
    containers = {"", "!inner.tar.gz", "!inner.zip"}
    for f in result.files:
        expected = "container" if f.path.split("case.zip", 1)[1] in containers else "unknown"
        assert f.status == expected, f.path
    assert result.record["complete"] is True and result.record["cut_short"] == {}
    assert result.record["read"]["archive_members"] == 7
    assert result.exit_code == EXIT_CLEAN


def test_non_utf8_tar_member_names_reach_the_report(tmp_path: Path, bank: Bank) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("caf\udce9.txt")  # the byte 0xE9 as tarfile decodes it
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "names.tar").write_bytes(buffer.getvalue())
    paths = [item.path for item in read_items([tmp_path / "names.tar"])]
    assert paths[1].endswith("names.tar!caf\\xe9.txt")
    result = run_scan([tmp_path / "names.tar"], bank.path, workers=1)
    report = write_case_report(result, tmp_path / "out")  # was a UnicodeEncodeError traceback
    files = json.loads(report["json"].read_text(encoding="utf-8"))["files"]
    assert files[1]["path"].endswith("names.tar!caf\\xe9.txt")


def test_scan_cli_flags_bound_the_scan_and_the_report_says_so(
    tmp_path: Path, bank: Bank, cli_runner: CliRunner
) -> None:
    (tmp_path / "nested.zip").write_bytes(nested_zip(16, 5))
    out = tmp_path / "r"
    args = ["scan", str(tmp_path / "nested.zip"), "--bank", str(bank.path), "--out", str(out)]
    r = cli_runner.invoke(app, [*args, "--max-members", "100", "--workers", "1"])
    assert r.exit_code == EXIT_CUT_SHORT, r.output
    assert "cut short" in r.output and "--max-members" in r.output
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["complete"] is False
    assert report["scan"]["limits"]["max_members"] == 100
    assert len(report["files"]) <= 1 + 100 + 5
    assert "cut short" in (out / "report.html").read_text()
    assert not (out / ".records.jsonl").exists()
    r = cli_runner.invoke(
        app,
        [*args, "--max-expanded-bytes", "64KiB", "--max-depth", "2", "--workers", "1", "--force"],
    )
    assert r.exit_code == EXIT_CUT_SHORT, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["scan"]["limits"]["max_expanded_bytes"] == 64 * 1024
    assert report["scan"]["read"]["expanded_bytes"] <= 64 * 1024
    for bad in (["--max-depth", "-1"], ["--max-expanded-bytes", "lots"], ["--max-ratio", "0"]):
        r = cli_runner.invoke(app, [*args, *bad])
        assert r.exit_code == 2 and "Traceback" not in r.output, (bad, r.output)
