"""Retro-hunting: a case's files found after their originals are banked (exact and PDQ, with
variants), nothing new on a second run, the same hits however the work is cut."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.bank import open_bank
from hashwarden.cases import CaseStore, retro_hunt, store_location
from hashwarden.cases.retro import match_part, new_entries, plan_parts

from .conftest import Evidence, bank_the_originals, run


def _found(out: Path) -> dict[str, dict[str, dict[str, object]]]:
    report = json.loads((out / "retro.json").read_text())
    return {
        case: {Path(f["path"]).name: f["match"] for f in found}
        for case, found in report["files"].items()
    }


def test_retro_finds_a_cases_files_after_their_originals_are_banked(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    code, out = run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / "k")
    assert code == 0, out  # nothing banked yet
    bank_the_originals(cli_runner, evidence)
    code, out = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r1")
    assert code == 1, out
    found = _found(tmp_path / "r1")["k"]
    assert set(found) == {"a.jpg", "b.jpg"}
    assert found["a.jpg"]["kind"] == "md5" and found["a.jpg"]["category"] == "csam-a"
    assert found["a.jpg"]["series"] == "S1"
    turned = found["b.jpg"]
    assert turned["kind"] == "pdq" and turned["orientation"] in ("rotate90", "rotate270")
    assert int(str(turned["distance"])) <= 31 and turned["category"] == "csam-b"
    html = (tmp_path / "r1" / "retro.html").read_text()
    assert "b.jpg" in html and "<img" not in html
    with open_bank(evidence.bank, readonly=True) as bank:
        recorded = bank.events.between("2000-01-01", "2100-01-01")
    assert sum(int(e[-1]) for e in recorded if e[2] == "known") == 2

    code, out = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r2")
    assert code == 0, out  # nothing new on a second run
    assert _found(tmp_path / "r2") == {"k": {}}
    code, out = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r2")
    assert code == 9  # a report there already, without --force


def test_entries_banked_before_the_scan_are_not_new(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    bank_the_originals(cli_runner, evidence)
    code, _ = run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / "k")
    assert code == 1  # the scan itself matched them
    code, out = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r")
    assert code == 0, out
    # --since 0 looks at every entry; what the scan matched is still not news.
    code, out = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r0", "--since", 0)
    assert code == 0, out


def test_since_and_case_choose_what_is_hunted(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    for name in ("one", "two"):
        run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / name)
    with open_bank(evidence.bank, readonly=True) as bank:
        before = bank.audit.head()[0]
    bank_the_originals(cli_runner, evidence)
    code, _ = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r", "--case", "two")
    assert code == 1
    assert set(_found(tmp_path / "r")) == {"two"}
    # "one" was not hunted: its first hunt still finds both files.
    code, _ = run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r1")
    assert code == 1
    assert set(_found(tmp_path / "r1")["one"]) == {"a.jpg", "b.jpg"}
    assert _found(tmp_path / "r1")["two"] == {}
    # With --since after the additions, nothing is new.
    code, _ = run(
        cli_runner, "retro", evidence.bank, "--out", tmp_path / "r2", "--since", before + 5
    )
    assert code == 0
    assert run(cli_runner, "retro", evidence.bank, "--out", tmp_path / "r3", "--case", "x")[0] == 4
    assert run(cli_runner, "retro", tmp_path / "none.db", "--out", tmp_path / "r4")[0] == 4


def test_the_hits_do_not_depend_on_how_the_work_is_cut(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / "k")
    bank_the_originals(cli_runner, evidence)
    with (
        open_bank(evidence.bank, readonly=True) as bank,
        CaseStore.open(store_location(evidence.bank)) as store,
    ):
        new, _ = new_entries(bank, 0)
        ids = [store.case_id("k")]
        whole = plan_parts(store, ids)
        pieces = plan_parts(store, ids, size=1)
        assert (len(whole), len(pieces)) == (1, 4)
        one = match_part(whole[0], new, 31)
        assert sorted(h for p in pieces for h in match_part(p, new, 31)) == one
        assert {h[2] for h in one} == {"md5", "pdq"}
        result = retro_hunt(bank, store, part_files=1)
    assert result.parts == 4 and result.matched == 2


def test_bundle_import_with_retro_hunts_what_it_applied(
    evidence: Evidence, cli_runner: CliRunner, tmp_path: Path
) -> None:
    run(cli_runner, "scan", evidence.bank, evidence.folder, "--out", tmp_path / "k")
    partner = tmp_path / "partner.db"
    run(cli_runner, "bank", "init", partner)
    run(cli_runner, "bank", "add", partner, "--md5", evidence.exact_md5, "-c", "A")
    run(cli_runner, "keys", "generate", "partner", "--folder", tmp_path)
    run(cli_runner, "keys", "add", evidence.bank, tmp_path / "partner.pub")
    bundle = tmp_path / "delta.json"
    key = tmp_path / "partner.key"
    assert run(cli_runner, "bundle", "export", partner, "--sign", key, "--out", bundle)[0] == 0
    out = tmp_path / "retro"
    code, output = run(cli_runner, "bundle", "import", evidence.bank, bundle, "--retro", out)
    assert code == 1, output  # applied, and the hunt found a.jpg
    assert set(_found(out)["k"]) == {"a.jpg"}
