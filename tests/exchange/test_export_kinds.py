"""No kind dropped in silence: every export carries each kind where its format has a place for
it, and says, with counts, what it could not carry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.exchange import ImportOptions, export_entries, get_format
from hashwarden.signals import Signal

PDQ = "f" * 64
VPDQ = "100:" + "e" * 64 + ",90:" + "d" * 64


def _entries() -> list[NewEntry]:
    """Entries holding every family of kind: digests, PDQ, vPDQ, P2P, stored fingerprints."""
    return [
        NewEntry(
            [
                Signal("md5", f"{i:032x}"),
                Signal("sha1", f"{i:040x}"),
                Signal("sha256", f"{i:064x}"),
                Signal("pdq", f"{i:02x}" + PDQ[2:]),
                Signal("ed2k", f"{i + 100:032x}"),
            ],
            "csam-b",
            source="hotline-x",
        )
        for i in range(1, 4)
    ] + [
        NewEntry([Signal("pdq", "a" * 64)], "csam-a", source="hotline-x"),  # PDQ alone
        NewEntry([Signal("vpdq", VPDQ), Signal("photodna", "QUJD" * 48)], "csam", source="x"),
        NewEntry([Signal("btih", "b" * 40), Signal("netclean", "NC-1")], "csam", source="x"),
    ]


def _export(tmp_path: Path, fmt_name: str) -> tuple[bytes, object]:
    with create_bank(tmp_path / f"{fmt_name}.db") as bank:
        bank.entries.add_many(_entries())
        kinds = sorted(bank.stats().signals_by_kind)
        buffer = io.BytesIO()
        result = export_entries(get_format(fmt_name), bank.entries.all(), buffer, kinds)
    return buffer.getvalue(), result


def _kinds_back(fmt_name: str, data: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in get_format(fmt_name).read(io.BytesIO(data), ImportOptions(), "back"):
        for s in entry.signals:
            counts[s.kind] = counts.get(s.kind, 0) + 1
    return counts


ALL = {"md5": 3, "sha1": 3, "sha256": 3, "pdq": 4, "ed2k": 3, "vpdq": 1, "photodna": 1}
ALL |= {"btih": 1, "netclean": 1}


@pytest.mark.parametrize("fmt_name", ["plain", "csv", "vics"])
def test_formats_with_a_place_for_every_kind_carry_every_kind(
    tmp_path: Path, fmt_name: str
) -> None:
    data, result = _export(tmp_path, fmt_name)
    assert result.left_out == {} and result.entries_left_out == 0  # type: ignore[attr-defined]
    assert _kinds_back(fmt_name, data) == ALL


def test_vics_carries_pdq_and_p2p_identifiers_in_alternative_hashes(tmp_path: Path) -> None:
    data, result = _export(tmp_path, "vics")
    media = json.loads(data)["value"]
    assert result.written == len(media) == 6  # type: ignore[attr-defined]
    first = media[0]
    assert first["MD5"] == f"{1:032x}".upper() and first["SHA1"] == f"{1:040x}".upper()
    alternative = {a["HashName"]: a["HashValue"] for a in first["AlternativeHashes"]}
    assert alternative == {"PDQ": "01" + PDQ[2:], "ED2K": f"{101:032x}"}
    pdq_only = media[3]
    assert "MD5" not in pdq_only and pdq_only["AlternativeHashes"] == [
        {"HashName": "PDQ", "HashValue": "a" * 64}
    ]


def test_vics_alternative_hashes_of_other_tools_are_read_and_kept() -> None:
    document = {
        "@odata.context": "http://x/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
        "value": [
            {
                "CaseID": "c",
                "Media": [
                    {
                        "MediaID": 1,
                        "Category": 1,
                        "AlternativeHashes": [
                            {"HashName": "PhotoDNA", "HashValue": "QUJD" * 48},
                            {"HashName": "pdq", "HashValue": "C" * 64},
                            {"HashName": "SomeVendorHash", "HashValue": "xyz"},
                        ],
                    }
                ],
            }
        ],
    }
    fmt = get_format("vics")
    (entry,) = fmt.read(io.BytesIO(json.dumps(document).encode()), ImportOptions(), "f")
    assert sorted(entry.signals) == [Signal("pdq", "c" * 64), Signal("photodna", "QUJD" * 48)]
    assert entry.extra["AlternativeHashes"] == [{"HashName": "SomeVendorHash", "HashValue": "xyz"}]


@pytest.mark.parametrize(
    ("fmt_name", "left_out", "entries_left_out", "back"),
    [
        (
            "icse",
            {"sha256": 3, "pdq": 4, "ed2k": 3, "vpdq": 1, "btih": 1, "netclean": 1},
            2,  # the PDQ alone, and the btih + netclean entry
            {"md5": 3, "sha1": 3, "photodna": 1},
        ),
        (
            "hma",
            {"sha1": 3, "ed2k": 3, "vpdq": 1, "photodna": 1, "btih": 1, "netclean": 1},
            2,  # the vpdq + photodna entry, the btih + netclean entry
            {"md5": 3, "sha256": 3, "pdq": 4},
        ),
    ],
)
def test_formats_say_what_they_could_not_carry(
    tmp_path: Path,
    fmt_name: str,
    left_out: dict[str, int],
    entries_left_out: int,
    back: dict[str, int],
) -> None:
    data, result = _export(tmp_path, fmt_name)
    assert result.left_out == left_out  # type: ignore[attr-defined]
    assert result.entries_left_out == entries_left_out  # type: ignore[attr-defined]
    assert _kinds_back(fmt_name, data) == back


def test_the_cli_reports_what_an_export_left_out(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:
        b.entries.add_many(_entries())
    out = tmp_path / "list.csv"
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--format", "icse", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == (
        f"wrote 4 entries to {out}; left out 4 pdq, 3 ed2k, 3 sha256, 1 btih, 1 netclean,"
        " 1 vpdq: ICSE has no column for them; left out 2 entries holding none of md5,"
        " photodna, sha1"
    )
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--format", "icse"])
    assert r.exit_code == 0 and "left out 4 pdq" in r.stderr and "wrote" not in r.stderr
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--format", "csv", "--out", str(out)])
    assert r.stderr.strip() == f"wrote 6 entries to {out}"
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "-f", "icse", "--kind", "md5"])
    assert r.exit_code == 0 and r.stderr == ""  # only what was asked for, all of it carried
