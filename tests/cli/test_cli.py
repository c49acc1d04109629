"""The command line: exit codes, messages instead of tracebacks, list import and export."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cli import app
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

MD5 = "d35c785545392755e7e4164457657269"
SHA1 = "ea45d7166b30f98aac6af52f952193ce3083cb4c"


def _bank(tmp_path: Path, runner: CliRunner) -> Path:
    path = tmp_path / "b.db"
    assert runner.invoke(app, ["bank", "init", str(path)]).exit_code == 0
    return path


def test_bank_commands(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    r = cli_runner.invoke(app, ["bank", "add", str(bank), "--md5", MD5.upper(), "-c", "2"])
    assert r.exit_code == 0, r.output
    r = cli_runner.invoke(app, ["match", "--bank", str(bank), "--md5", MD5, "--json"])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["matches"][0]["category"] == "exploitive"
    r = cli_runner.invoke(app, ["match", "--bank", str(bank), "--sha1", SHA1])
    assert r.exit_code == 0 and "no match" in r.stdout
    r = cli_runner.invoke(app, ["bank", "stats", str(bank), "--json"])
    assert json.loads(r.stdout)["entries"] == 1
    assert cli_runner.invoke(app, ["bank", "verify", str(bank)]).exit_code == 0


def test_plain_list_import_export_round_trip(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    hashes = [f"{i:032x}" for i in range(1, 51)]
    listing = tmp_path / "list.txt"
    listing.write_text("# a list\n\n" + "\n".join(h.upper() for h in hashes) + "\n")
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(listing), "-c", "B"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.txt"
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--kind", "md5", "--out", str(out)])
    assert r.exit_code == 0
    assert sorted(out.read_text().split()) == sorted(hashes)
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--kind", "md5"])
    assert sorted(r.stdout.split()) == sorted(hashes)


def test_broken_import_names_line_and_changes_nothing(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = _bank(tmp_path, cli_runner)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(f"{i:032x}" for i in range(1, 100)) + "\nnot-a-hash\n")
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(listing)])
    assert r.exit_code == 3
    assert "line 100" in r.output and "Traceback" not in r.output
    with open_bank(bank, readonly=True) as b:
        assert b.stats().entries == 0
    sha256_list = tmp_path / "s.txt"
    sha256_list.write_text("ab" * 32 + "\n")
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(sha256_list)])
    assert r.exit_code == 3 and "--kind" in r.output
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(sha256_list), "--kind", "pdq"])
    assert r.exit_code == 0
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(binary)])
    assert r.exit_code == 3 and "UTF-8" in r.output


def test_usage_errors_are_messages(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    cases = [
        (["bank", "add", str(bank), "--md5", "xyz"], 2, "not a md5 value"),
        (["bank", "add", str(bank)], 2, "give at least one"),
        (["bank", "add", str(bank), "--md5", MD5, "-c", "Z"], 2, "unknown category"),
        (["bank", "stats", str(tmp_path / "none.db")], 4, "no bank"),
        (
            ["scan", str(tmp_path / "nothing"), "--bank", str(bank), "--out", str(tmp_path / "o")],
            4,
            "no such file",
        ),
        (["bank", "import", str(bank), str(tmp_path / "none.txt")], 4, "No such file"),
        (["bank", "export", str(bank), "--kind", "sha512"], 2, "unknown signal kind"),
        (["bank", "init", str(bank)], 9, "already exists"),
    ]
    for args, code, message in cases:
        r = cli_runner.invoke(app, args)
        assert r.exit_code == code, (args, r.output)
        assert message in r.output and "Traceback" not in r.output, (args, r.output)


def test_scan_exit_codes(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = _bank(tmp_path, cli_runner)
    case = tmp_path / "case"
    case.mkdir()
    (case / "a.jpg").write_bytes(jpeg_bytes(synthetic_photo(3)))
    args = ["scan", str(case), "--bank", str(bank), "--out", str(tmp_path / "r")]
    r = cli_runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    r = cli_runner.invoke(app, ["bank", "add-files", str(bank), str(case), "-c", "A"])
    assert r.exit_code == 0
    r = cli_runner.invoke(app, [*args, "--force"])  # the same --out again: an overwrite
    assert r.exit_code == 1
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    match = report["files"][0]["matches"][0]
    assert set(match) >= {"entry", "kind", "distance", "category"} and match["category"] == "csam-a"
    (case / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    assert cli_runner.invoke(app, [*args, "--force"]).exit_code == 7
    r = cli_runner.invoke(app, [*args, "--threshold", "-3"])
    assert r.exit_code == 2


def test_demo_command(tmp_path: Path, cli_runner: CliRunner) -> None:
    out = tmp_path / "demo"
    r = cli_runner.invoke(app, ["demo", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "SYNTHETIC" in r.output and (out / "report" / "report.html").is_file()
