"""The case report shows the strongest evidence first, how a near copy matched, and lists the
unknown files an investigator must look at."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index.matcher import Match
from hashwarden.reports import case as case_report
from hashwarden.reports import write_case_report
from hashwarden.scan import run_scan, strongest_first
from hashwarden.signals import Signal, hash_bytes
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

#: The CSV columns before the orientation was added: kept, in this order, for spreadsheets.
COLUMNS_BEFORE = [
    "path",
    "status",
    "size",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "media_type",
    "match_entry",
    "match_kind",
    "match_distance",
    "match_category",
    "match_series",
    "known_good",
    "cluster",
    "error",
    "notes",
]


def _bank_with(path: Path, signals: dict[str, str]) -> Path:
    with create_bank(path) as bank:
        bank.entries.add(NewEntry([Signal(k, v) for k, v in signals.items()], "csam-a", "s1"))
    return path


def _section(html: str, title: str) -> str:
    """The HTML between the heading `title` and the next heading."""
    return html.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]


def test_an_exact_copy_is_shown_by_its_sha256_first(tmp_path: Path) -> None:
    data = jpeg_bytes(synthetic_photo(61))
    signals = {k: v for k, v in hash_bytes(data).signals().items() if k != "sha1"}
    p2p = set(signals) - {"md5", "sha256", "pdq"}
    assert p2p, "the hasher gives P2P identifiers (ed2k, tth) for this file"
    bank = _bank_with(tmp_path / "b.db", signals)
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "copy.jpg").write_bytes(data)

    result = run_scan([tmp_path / "case"], bank, workers=1)
    kinds = [m.kind for m in result.files[0].matches]
    assert kinds[:2] == ["sha256", "md5"], kinds
    assert set(kinds[2:-1]) == p2p and kinds[-1] == "pdq", kinds

    paths = write_case_report(result, tmp_path / "report")
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [m["kind"] for m in document["files"][0]["matches"]] == kinds
    row = next(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert (row["match_kind"], row["match_distance"]) == ("sha256", "0")
    matched = _section(paths["html"].read_text(encoding="utf-8"), "Matched files")
    assert "sha256 (0)" in matched
    assert not any(f"{kind} (0)" in matched for kind in p2p)


def _match(kind: str, distance: int = 0, entry: int = 1) -> Match:
    return Match(entry, kind, "v", distance, "csam-a", None, False)


def test_cryptographic_hashes_then_other_exact_kinds_then_near_by_distance() -> None:
    found = [
        _match("pdq", 12, entry=2),
        _match("bt_root"),
        _match("pdq", 3, entry=3),
        _match("ed2k"),
        _match("md5"),
        _match("photodna", entry=4),
        _match("sha1"),
        _match("sha256"),
    ]
    ordered = [(m.kind, m.distance) for m in strongest_first(found)]
    assert ordered[:3] == [("sha256", 0), ("sha1", 0), ("md5", 0)]
    assert sorted(ordered[3:6]) == [("bt_root", 0), ("ed2k", 0), ("photodna", 0)]
    assert ordered[6:] == [("pdq", 3), ("pdq", 12)]


def test_the_orientation_that_matched_is_shown(tmp_path: Path) -> None:
    original = synthetic_photo(62)
    pdq = hash_bytes(jpeg_bytes(original)).pdq or ""
    bank = _bank_with(tmp_path / "b.db", {"pdq": pdq})
    (tmp_path / "case").mkdir()
    mirrored = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    (tmp_path / "case" / "mirrored.jpg").write_bytes(jpeg_bytes(mirrored, 85))

    result = run_scan([tmp_path / "case"], bank, workers=1)
    best = result.files[0].matches[0]
    assert best.orientation not in ("original", "")

    paths = write_case_report(result, tmp_path / "report")
    row = next(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert row["match_orientation"] == best.orientation
    assert row["match_view"] == ""  # a whole-picture match
    assert list(row) == [*COLUMNS_BEFORE, "match_orientation", "match_view"], (
        "new columns go at the end"
    )
    matched = _section(paths["html"].read_text(encoding="utf-8"), "Matched files")
    assert f"<td>{best.orientation}</td>" in matched


def _unknown_case(root: Path, count: int) -> Path:
    root.mkdir()
    for n in range(count):
        (root / f"note{n}.txt").write_text(f"unknown note {n}")
    return root


def test_the_unknown_files_are_listed_with_their_hashes(tmp_path: Path) -> None:
    bank = _bank_with(tmp_path / "b.db", {"md5": "0" * 32})
    case = _unknown_case(tmp_path / "case", 3)
    (case / "photo.jpg").write_bytes(jpeg_bytes(synthetic_photo(63)))
    result = run_scan([case], bank, workers=1)
    html = write_case_report(result, tmp_path / "report")["html"].read_text(encoding="utf-8")
    listed = _section(html, "Unknown files")
    for f in result.files:
        assert f.status == "unknown"
        assert f.path in listed and (f.sha256 or "-") in listed and (f.md5 or "-") in listed
    assert (result.files[0].pdq or "-") in listed  # photo.jpg comes first
    assert "more unknown files" not in listed
    assert "<img" not in html and "data:image" not in html


def test_the_unknown_files_listed_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_report, "UNKNOWN_LISTED", 3)
    bank = _bank_with(tmp_path / "b.db", {"md5": "0" * 32})
    result = run_scan([_unknown_case(tmp_path / "case", 5)], bank, workers=1, spool=None)
    paths = write_case_report(result, tmp_path / "report")
    listed = _section(paths["html"].read_text(encoding="utf-8"), "Unknown files")
    assert listed.count("<tr>") == 1 + 3  # the header and the first three
    assert "note2.txt" in listed and "note3.txt" not in listed
    assert "2 more unknown files" in listed and "report.csv" in listed
    rows = list(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert sum(r["status"] == "unknown" for r in rows) == 5, "the CSV lists them all"
