"""Fixtures of the case store and retro-hunt tests: a bank, and benign generated evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.cli import app
from hashwarden.synthetic import jpeg_bytes, synthetic_photo


@dataclass
class Evidence:
    bank: Path
    folder: Path
    #: What is banked after the scan: a file of the case by its MD5 ...
    exact_md5: str
    #: ... and the original of a file the case holds only turned by 90 degrees.
    original: Path


def run(runner: CliRunner, *args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture
def evidence(tmp_path: Path, cli_runner: CliRunner) -> Evidence:
    bank = tmp_path / "b.db"
    assert run(cli_runner, "bank", "init", bank)[0] == 0
    folder = tmp_path / "evidence"
    (folder / "sub").mkdir(parents=True)
    exact = jpeg_bytes(synthetic_photo(11))
    (folder / "a.jpg").write_bytes(exact)
    (folder / "sub" / "b.jpg").write_bytes(jpeg_bytes(synthetic_photo(12).rotate(90, expand=True)))
    (folder / "c.jpg").write_bytes(jpeg_bytes(synthetic_photo(13)))
    (folder / "notes.txt").write_bytes(b"not an image")
    originals = tmp_path / "originals"
    originals.mkdir()
    original = originals / "12.jpg"
    original.write_bytes(jpeg_bytes(synthetic_photo(12)))
    return Evidence(bank, folder, hashlib.md5(exact).hexdigest(), original)


def bank_the_originals(runner: CliRunner, ev: Evidence) -> None:
    """Bank, after the scan, a.jpg by its MD5 and the original of b.jpg by its files' hashes."""
    assert (
        run(runner, "bank", "add", ev.bank, "--md5", ev.exact_md5, "-c", "A", "--series", "S1")[0]
        == 0
    )
    code, out = run(runner, "bank", "add-files", ev.bank, ev.original, "-c", "B")
    assert code == 0, out
