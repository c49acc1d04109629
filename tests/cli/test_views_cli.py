"""Views from the command line: `bank add-files` banks them, `bank add-views` re-derives them
for entries banked before, `match --file` and `scan` find cropped and captioned copies."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cli import app
from hashwarden.errors import EXIT_CLEAN, EXIT_MATCHES, EXIT_NOT_FOUND, EXIT_USAGE
from hashwarden.signals import hash_bytes

BRIDGE = Path(__file__).resolve().parents[1] / "data" / "conformance" / "pdq" / "dih"


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """(the banked photograph's folder, a case of a cropped and a captioned copy)."""
    banked, case = tmp_path / "banked", tmp_path / "case"
    banked.mkdir()
    case.mkdir()
    (banked / "bridge.jpg").write_bytes((BRIDGE / "bridge-1-original.jpg").read_bytes())
    with Image.open(BRIDGE / "bridge-1-original.jpg") as opened:
        image = opened.convert("RGB")
    w, h = image.size
    cropped = image.crop((round(0.05 * w), round(0.05 * h), round(0.95 * w), round(0.95 * h)))
    (case / "cropped.jpg").write_bytes(_jpeg(cropped))
    captioned = cropped.copy()
    cw, ch = captioned.size
    ImageDraw.Draw(captioned).rectangle((0, ch - ch // 12, cw // 2, ch), fill=(10, 10, 10))
    (case / "captioned.jpg").write_bytes(_jpeg(captioned))
    return banked, case


def _init(runner: CliRunner, path: Path) -> str:
    assert runner.invoke(app, ["bank", "init", str(path)]).exit_code == 0
    return str(path)


def test_add_files_banks_views_that_match_and_scan_use(
    tmp_path: Path, cli_runner: CliRunner, folders: tuple[Path, Path]
) -> None:
    banked, case = folders
    bank = _init(cli_runner, tmp_path / "b.db")
    r = cli_runner.invoke(app, ["bank", "add-files", bank, str(banked), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "banked views of 1 images" in r.output
    r = cli_runner.invoke(app, ["match", bank, "--file", str(case / "cropped.jpg"), "--json"])
    assert r.exit_code == EXIT_MATCHES, r.output
    assert r.output and '"view": "c' in r.output
    out = tmp_path / "report"
    r = cli_runner.invoke(app, ["scan", bank, str(case), "--out", str(out), "--workers", "1"])
    assert r.exit_code == EXIT_MATCHES, r.output
    rows = list(csv.DictReader((out / "report.csv").open(encoding="utf-8")))
    assert {row["status"] for row in rows} == {"matched"}
    assert all(row["match_view"] for row in rows)
    with open_bank(bank, readonly=True) as b:
        assert b.verify().ok


def test_add_views_gives_views_to_entries_banked_before(
    tmp_path: Path, cli_runner: CliRunner, folders: tuple[Path, Path]
) -> None:
    banked, case = folders
    bank = _init(cli_runner, tmp_path / "b.db")
    hashes = hash_bytes((banked / "bridge.jpg").read_bytes())
    add = ["bank", "add", bank, "--sha256", hashes.sha256, "--pdq", hashes.pdq or ""]
    assert cli_runner.invoke(app, add).exit_code == 0
    match = ["match", bank, "--file", str(case / "cropped.jpg")]
    r = cli_runner.invoke(app, match)
    assert r.exit_code == EXIT_CLEAN, r.output  # banked by hashes alone: the crop is missed
    (banked / "stranger.jpg").write_bytes(_jpeg(Image.new("RGB", (300, 200), "red")))
    (banked / "other.jpg").write_bytes((case / "captioned.jpg").read_bytes())
    r = cli_runner.invoke(app, ["bank", "add-views", bank, str(banked), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "banked views of 1 entries" in r.output
    assert "1 files not in the bank" in r.output  # the captioned copy: views, but no entry
    assert "1 files without views" in r.output  # the featureless red picture
    r = cli_runner.invoke(app, match)
    assert r.exit_code == EXIT_MATCHES, r.output
    assert "view c" in r.output
    r = cli_runner.invoke(app, ["bank", "add-views", bank, str(banked), "--workers", "1"])
    assert "banked views of 0 entries (1 had these views already)" in r.output
    with open_bank(bank, readonly=True) as b:
        assert b.verify().ok
        assert len(b.entries.get(1).signals) == 2  # nothing else of the entry changed


def test_match_file_usage(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _init(cli_runner, tmp_path / "b.db")
    r = cli_runner.invoke(app, ["match", bank, "--file", str(tmp_path / "none.jpg")])
    assert r.exit_code == EXIT_NOT_FOUND
    (tmp_path / "a.jpg").write_bytes(b"not an image")
    r = cli_runner.invoke(
        app, ["match", bank, "--file", str(tmp_path / "a.jpg"), "--md5", "0" * 32]
    )
    assert r.exit_code == EXIT_USAGE
    assert "not both" in r.output
