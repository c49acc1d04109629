"""The statistics report's numbers are the recorded events' numbers."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.reports.charts import write_statistics_report
from hashwarden.reports.statistics import Event, record_events, summarise
from hashwarden.signals import Signal, hash_bytes
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

EVENTS = [
    Event("p2p", "known", "csam-a", "s1", True, "SE", 3, "2026-03-02T10:00:00Z"),
    Event("p2p", "known", "csam-b", None, False, "NO", 2, "2026-03-20T10:00:00Z"),
    Event("web", "known", "csam-a", "s2", False, None, 1, "2026-04-01T10:00:00Z"),
    Event("device", "new", region="SE", count=4, at="2026-04-02T10:00:00Z"),
    Event("isp_block", "blocked", count=500, at="2026-04-03T10:00:00Z"),
    Event("p2p", "known", "csam-c", None, False, None, 9, "2025-12-31T10:00:00Z"),  # outside
]


def _cells(html: str, heading: str) -> dict[str, int]:
    section = html.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]
    return {
        k: int(v) for k, v in re.findall(r"<tr><td>([^<]+)</td><td class=n>(\d+)</td>", section)
    }


def test_report_numbers_match_the_events(bank: Bank, tmp_path: Path) -> None:
    assert record_events(bank, EVENTS) == len(EVENTS)
    summary = summarise(bank, date(2026, 1, 1), date(2026, 12, 31))
    html = write_statistics_report(summary, tmp_path / "r.html").read_text()
    assert _cells(html, "Detections by channel") == {"p2p": 5, "web": 1, "device": 4}
    assert _cells(html, "Known material by category") == {"csam-a": 4, "csam-b": 2}
    assert _cells(html, "Blocked attempts per month") == {"2026-04": 500}
    assert _cells(html, "Series seen") == {"s1": 3, "s2": 1}
    assert _cells(html, "Detections over time (known and new)") == {
        "2026-03 known": 5,
        "2026-04 known": 1,
        "2026-04 new": 4,
    }
    assert "<b>10</b>detections" in html and "<b>3</b>victims identified" in html
    assert "<img" not in html and "http" not in html.split("<svg", 1)[0]
    pdf = write_statistics_report(summary, tmp_path / "r.pdf", fmt="pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_scan_records_statistics_and_report_cli(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = tmp_path / "b.db"
    photo = synthetic_photo(77)
    with create_bank(bank) as b:
        signals = hash_bytes(jpeg_bytes(photo)).signals()
        b.entries.add(NewEntry([Signal(k, v) for k, v in signals.items()], "csam-b", "s9"))
    case = tmp_path / "case"
    case.mkdir()
    (case / "a.jpg").write_bytes(jpeg_bytes(photo, 70))
    (case / "b.jpg").write_bytes(jpeg_bytes(synthetic_photo(78)))
    args = [
        "scan",
        str(case),
        "--bank",
        str(bank),
        "--out",
        str(tmp_path / "r"),
        "--record-stats",
        "--channel",
        "social_media",
        "--region",
        "DE",
    ]
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 1 and "recorded 2 statistics events" in result.output
    today = date.today().isoformat()
    out = tmp_path / "stats.html"
    result = cli_runner.invoke(
        app, ["report", "--bank", str(bank), "--from", today, "--to", today, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert _cells(html, "Detections by channel") == {"social_media": 2}
    assert _cells(html, "Detections by region") == {"DE": 2}
    bad = cli_runner.invoke(
        app,
        ["report", "--bank", str(bank), "--from", "yesterday", "--to", today, "--out", str(out)],
    )
    assert bad.exit_code == 2 and "not a date" in bad.output
    bad = cli_runner.invoke(app, [*args[:-4], "--record-stats", "--channel", "tv"])
    assert bad.exit_code == 2 and "--channel" in bad.output


def test_a_scan_whose_statistics_cannot_be_written_still_succeeds(
    tmp_path: Path, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashwarden.cli import scan as scan_cli
    from hashwarden.errors import DataError

    def refuse(*args: object, **kwargs: object) -> int:
        raise DataError("bank is read-only")

    monkeypatch.setattr(scan_cli, "record_events", refuse)
    bank = tmp_path / "b.db"
    create_bank(bank).close()
    case = tmp_path / "case"
    case.mkdir()
    (case / "a.txt").write_text("x")
    result = cli_runner.invoke(
        app, ["scan", str(case), "--bank", str(bank), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0 and "statistics not recorded" in result.output
    result = cli_runner.invoke(
        app,
        [
            "scan",
            str(case),
            "--bank",
            str(bank),
            "--out",
            str(tmp_path / "r2"),
            "--no-record-stats",
        ],
    )
    assert result.exit_code == 0 and "statistics events" not in result.output
    assert "not recorded" not in result.output
