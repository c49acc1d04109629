"""PDQ and the cryptographic digests agree with the reference for every conformance file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.cli import app
from hashwarden.signals import hash_file


def _expected(conformance: Path) -> dict[str, dict[str, str]]:
    with (conformance / "pdq" / "expected.csv").open() as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def test_hash_file_reproduces_reference(conformance: Path) -> None:
    expected = _expected(conformance)
    assert len(expected) >= 12
    for rel, row in expected.items():
        h = hash_file(conformance / "pdq" / rel, pdq_mode="reference")
        assert (h.pdq, h.pdq_quality) == (row["pdq"], int(row["quality"])), rel
        assert (h.md5, h.sha1, h.sha256) == (row["md5"], row["sha1"], row["sha256"]), rel


def test_hash_cli_json(conformance: Path, cli_runner: CliRunner) -> None:
    expected = _expected(conformance)
    result = cli_runner.invoke(
        app, ["hash", "--json", "--pdq-mode", "reference", str(conformance / "pdq")]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    by_rel = {str(Path(r["path"]).relative_to(conformance / "pdq")): r for r in lines}
    assert set(expected) <= set(by_rel)
    for rel, row in expected.items():
        record = by_rel[rel]
        assert set(record) == {"path", "md5", "sha1", "sha256", "pdq", "pdq_quality"}
        assert record["pdq"] == row["pdq"] and record["pdq_quality"] == int(row["quality"])
        assert record["md5"] == row["md5"] and record["sha256"] == row["sha256"]
