"""The scan on the demo case and on hostile input: every file classified, nothing modified."""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.demo import build_demo_case
from hashwarden.reports import write_case_report
from hashwarden.scan import Limits, run_scan
from hashwarden.signals import Signal, hash_bytes
from hashwarden.synthetic import TRANSFORMS, jpeg_bytes, synthetic_photo, transform

from .._postgres import ThrowawayPostgres


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink():
                found[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return found


def test_demo_case_is_triaged(tmp_path: Path) -> None:
    case = build_demo_case(tmp_path / "demo")
    before = _snapshot(case.evidence)
    result = run_scan([case.evidence], case.bank)
    assert _snapshot(case.evidence) == before, "evidence was modified"
    by_name = {f.path.split("evidence/", 1)[1]: f for f in result.files}
    matched = {n for n, f in by_name.items() if f.status == "matched"}
    assert len(matched) == case.expected_matched
    assert "Downloads/holiday.zip!backup.tar!nested/old_photo.jpg" in matched
    assert {n for n, f in by_name.items() if f.status == "known_good"} == {
        "System/logo.png",
        "System/readme.txt",
    }
    assert by_name["Downloads/truncated.jpg"].status == "error"
    assert "truncated" in (by_name["Downloads/truncated.jpg"].error or "")
    series = {n for n, f in by_name.items() if f.cluster == 1}
    assert series == {"DCIM/IMG_0201.jpg", "DCIM/IMG_0202.jpg", "DCIM/IMG_0203.jpg"}
    assert result.exit_code == 7
    assert result.record["bank_fingerprint"] and result.record["counts"]["matched"] == len(matched)

    paths = write_case_report(result, tmp_path / "report")
    html = paths["html"].read_text()
    assert "<img" not in html and "data:image" not in html
    assert "holiday.zip!photos/beach.jpg" in html
    manifest = paths["manifest"].read_text()
    assert hashlib.sha256(paths["json"].read_bytes()).hexdigest() in manifest


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_transformed_copies_match_and_distinct_images_do_not(tmp_path: Path, seed: int) -> None:
    original = synthetic_photo(seed)
    with create_bank(tmp_path / "b.db") as bank:
        signals = hash_bytes(jpeg_bytes(original)).signals()
        bank.entries.add(NewEntry([Signal(k, v) for k, v in signals.items()], "csam-b"))
    case = tmp_path / "case"
    case.mkdir()
    for name in TRANSFORMS:
        (case / f"{name}.jpg").write_bytes(jpeg_bytes(transform(original, name), 80))
    for other in range(5):
        (case / f"distinct{other}.jpg").write_bytes(jpeg_bytes(synthetic_photo(1000 + other)))
    result = run_scan([case], tmp_path / "b.db")
    status = {Path(f.path).stem: f.status for f in result.files}
    assert all(status[name] == "matched" for name in TRANSFORMS), status
    assert all(status[f"distinct{o}"] == "unknown" for o in range(5)), status


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_hostile_input_never_stops_the_scan(tmp_path: Path, bank: Bank) -> None:
    case = tmp_path / "case"
    (case / "loop").mkdir(parents=True)
    (case / "loop" / "again").symlink_to(case, target_is_directory=True)
    (case / "bomb.png").write_bytes(_png_header_only(50_000, 50_000))
    (case / "zero.bin").write_bytes(b"")
    (case / os.fsdecode(b"caf\xe9-\xff.jpg")).write_bytes(jpeg_bytes(synthetic_photo(5), 60))
    with zipfile.ZipFile(case / "evil.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("../../etc/passwd", b"root:x:0:0\n")
        z.writestr("bomb.bin", b"\0" * (8 * 1024 * 1024))
        z.writestr("ok.txt", b"hello")
    (case / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    result = run_scan([case], bank.path, limits=Limits(max_ratio=100))
    by_name = {f.path.split("case/", 1)[1]: f for f in result.files}
    assert by_name["loop/again"].status == "error" and "symbolic link" in (
        by_name["loop/again"].error or ""
    )
    assert "pixel limit" in (by_name["bomb.png"].error or "")
    assert by_name["zero.bin"].status == "unknown" and "empty file" in by_name["zero.bin"].notes
    assert "zip bomb" in (by_name["evil.zip!bomb.bin"].error or "")
    traversal = by_name["evil.zip!../../etc/passwd"]
    assert traversal.md5 == hashlib.md5(b"root:x:0:0\n").hexdigest()
    assert any("path traversal" in n for n in traversal.notes)
    assert by_name["evil.zip!ok.txt"].status == "unknown"
    assert any(n.startswith("broken.zip!") and f.status == "error" for n, f in by_name.items())
    odd = next(f for n, f in by_name.items() if n.startswith("caf"))
    assert odd.status == "unknown" and odd.pdq is not None
    assert not (tmp_path / "etc").exists()
    assert result.record["cut_short"] == {"max_ratio": 1}  # the zip bomb: not read, so
    assert result.exit_code == 11  # not a complete scan (without it: 6, unreadable files)


def test_unreadable_file_is_reported(
    tmp_path: Path, bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "locked.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 10)
    (case / "fine.txt").write_bytes(b"fine")
    real_open = os.open

    def deny(path: object, flags: int, *args: object) -> int:
        if str(path).endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", deny)
    result = run_scan([case], bank.path, workers=1)
    status = {Path(f.path).name: (f.status, f.error) for f in result.files}
    assert status["locked.jpg"] == ("error", "cannot read: Permission denied")
    assert status["fine.txt"][0] == "unknown"


def test_scan_against_a_postgres_bank(tmp_path: Path, pg_server: ThrowawayPostgres) -> None:
    location = pg_server.new_database()
    original = synthetic_photo(21)
    with create_bank(location) as bank:
        signals = hash_bytes(jpeg_bytes(original)).signals()
        bank.entries.add(NewEntry([Signal(k, v) for k, v in signals.items()], "csam-a"))
    case = tmp_path / "case"
    case.mkdir()
    (case / "copy.jpg").write_bytes(jpeg_bytes(transform(original, "resized")))
    (case / "other.jpg").write_bytes(jpeg_bytes(synthetic_photo(22)))
    result = run_scan([case], location)
    assert {Path(f.path).name: f.status for f in result.files} == {
        "copy.jpg": "matched",
        "other.jpg": "unknown",
    }
    assert result.record["bank"].startswith("postgresql://")


def test_p2p_identifiers_are_computed_only_for_a_bank_that_holds_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashwarden.scan.pipeline as pipeline

    asked: list[list[str]] = []
    hash_in_parallel = pipeline.hash_in_parallel

    def spy(*args: object, extra_kinds: list[str], **options: object) -> object:
        asked.append(sorted(extra_kinds))
        return hash_in_parallel(*args, extra_kinds=extra_kinds, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "hash_in_parallel", spy)
    case = tmp_path / "case"
    case.mkdir()
    shared = case / "shared.avi"
    shared.write_bytes(os.urandom(70_000))
    ed2k = hash_bytes(shared.read_bytes()).signals()["ed2k"]
    with create_bank(tmp_path / "digests.db") as b:
        b.entries.add(NewEntry([Signal("md5", "0" * 32)], "csam-b"))
    with create_bank(tmp_path / "p2p.db") as b:
        b.entries.add(NewEntry([Signal("ed2k", ed2k)], "csam-b"))

    assert run_scan([case], tmp_path / "digests.db").counts["unknown"] == 1
    result = run_scan([case], tmp_path / "p2p.db")
    assert asked == [[], ["ed2k"]]  # the kinds the bank holds; their hasher computes all
    assert [m.kind for m in result.files[0].matches] == ["ed2k"]
