"""Archives are containers, not unknown files: the unknown count is content only, and an
archive read completely changes no exit code; a banked archive still matches as a file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.reports import write_case_report
from hashwarden.scan import EXIT_CLEAN, EXIT_ERRORS, EXIT_MATCHES, FileRecord, Limits, run_scan
from hashwarden.signals import Signal

from .test_bounds import tar_gz


def _case_zip(path: Path) -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("deeper/a.txt", b"alpha")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", b"hello")
        archive.writestr("inner.zip", inner.getvalue())
        archive.writestr("inner.tar.gz", tar_gz({"t/one.txt": b"one"}))
    return path.read_bytes()


def _statuses(files: Iterable[FileRecord]) -> dict[str, str]:
    return {f.path.rsplit("/", 1)[-1]: f.status for f in files}


def test_archives_are_containers_and_only_content_is_unknown(tmp_path: Path, bank: Bank) -> None:
    _case_zip(tmp_path / "case.zip")
    (tmp_path / "loose.txt").write_text("not in an archive")
    result = run_scan([tmp_path / "case.zip", tmp_path / "loose.txt"], bank.path, workers=1)
    status = {f.path.split(str(tmp_path) + "/", 1)[1]: f.status for f in result.files}
    assert status == {
        "case.zip": "container",
        "case.zip!readme.txt": "unknown",
        "case.zip!inner.zip": "container",
        "case.zip!inner.zip!deeper/a.txt": "unknown",
        "case.zip!inner.tar.gz": "container",
        "case.zip!inner.tar.gz!t/one.txt": "unknown",
        "loose.txt": "unknown",
    }
    assert result.counts["unknown"] == 4 and result.counts["container"] == 3
    assert result.record["counts"] == result.counts
    assert result.exit_code == EXIT_CLEAN

    paths = write_case_report(result, tmp_path / "report")
    html = paths["html"].read_text(encoding="utf-8")
    assert "<div class='card container'><b>3</b>container</div>" in html
    assert "<div class='card unknown'><b>4</b>unknown</div>" in html
    unknown = html.split("<h2>Unknown files</h2>", 1)[1].split("<h2>", 1)[0]
    assert "case.zip!readme.txt" in unknown and "case.zip!inner.zip<" not in unknown
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    containers = [f for f in document["files"] if f["status"] == "container"]
    assert len(containers) == 3 and all(f["sha256"] for f in containers), "hashed as files"


def test_a_banked_archive_still_matches_as_a_file(tmp_path: Path) -> None:
    data = _case_zip(tmp_path / "case.zip")
    with create_bank(tmp_path / "b.db") as bank:
        sha256 = hashlib.sha256(data).hexdigest()
        bank.entries.add(NewEntry([Signal("sha256", sha256)], "csam-a"))
    result = run_scan([tmp_path / "case.zip"], tmp_path / "b.db", workers=1)
    first = result.files[0]
    assert first.path.endswith("case.zip") and first.status == "matched"
    assert first.matches[0].kind == "sha256"
    assert result.counts["container"] == 2 and result.counts["unknown"] == 3
    assert result.exit_code == EXIT_MATCHES


def test_an_archive_not_read_completely_is_reported_by_its_error_record(
    tmp_path: Path, bank: Bank
) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    result = run_scan([tmp_path / "broken.zip"], bank.path, workers=1)
    status = _statuses(result.files)
    assert status == {"broken.zip": "container", "broken.zip!": "error"}
    assert result.exit_code == EXIT_ERRORS, "the archive's unread content is an error"

    _case_zip(tmp_path / "case.zip")
    cut = run_scan([tmp_path / "case.zip"], bank.path, limits=Limits(max_depth=1), workers=1)
    by_path = {f.path.split("case.zip", 1)[1]: f for f in cut.files}
    assert by_path["!inner.zip"].status == "container"
    assert by_path["!inner.zip!"].limit == "max_depth"
    assert cut.record["complete"] is False


def test_an_empty_file_named_like_an_archive_is_unknown(tmp_path: Path, bank: Bank) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "empty.zip").write_bytes(b"")
    (case / "text.tar.gz").write_text("not compressed at all")
    result = run_scan([case], bank.path, workers=1)
    assert _statuses(result.files) == {"empty.zip": "unknown", "text.tar.gz": "unknown"}
