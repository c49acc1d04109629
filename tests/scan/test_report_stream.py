"""The scan's records go to disk as they arrive; the report is written from them in bounded
memory and keeps its format."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hashwarden.bank import Bank
from hashwarden.demo import build_demo_case
from hashwarden.reports import write_case_report
from hashwarden.scan import run_scan


def test_records_reach_disk_as_the_scan_runs(tmp_path: Path, bank: Bank) -> None:
    case = tmp_path / "case"
    case.mkdir()
    for n in range(30):
        (case / f"f{n:02d}.txt").write_text(f"file {n}")
    spool = tmp_path / "out" / ".records.jsonl"
    on_disk: list[int] = []

    def count_lines(_: object) -> None:
        on_disk.append(len(spool.read_text(encoding="utf-8").splitlines()))

    result = run_scan([case], bank.path, spool=spool, on_item=count_lines, workers=1)
    assert on_disk == list(range(1, 31)), "each record is on disk before the next is read"
    assert len(result.files) == 30
    assert [Path(f.path).name for f in result.files] == [f"f{n:02d}.txt" for n in range(30)]


def _without_times(document: dict[str, object]) -> dict[str, object]:
    scan = dict(document["scan"])  # type: ignore[call-overload]
    scan.pop("started")
    scan.pop("finished")
    return {**document, "scan": scan}


def test_a_spooled_scan_writes_the_same_report(tmp_path: Path) -> None:
    case = build_demo_case(tmp_path / "demo")
    held = run_scan([case.evidence], case.bank)
    spooled = run_scan([case.evidence], case.bank, spool=tmp_path / "spooled" / ".records.jsonl")
    series = {Path(f.path).name for f in spooled.files if f.cluster == 1}
    assert series == {"IMG_0201.jpg", "IMG_0202.jpg", "IMG_0203.jpg"}
    assert spooled.counts == held.counts and spooled.exit_code == held.exit_code == 7
    a = write_case_report(held, tmp_path / "held")
    b = write_case_report(spooled, tmp_path / "spooled")
    text = b["json"].read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=1, ensure_ascii=False), "format kept"
    assert _without_times(document) == _without_times(json.loads(a["json"].read_text()))
    assert set(document) == {"scan", "files", "clusters"}
    assert document["clusters"][0]["cluster"] == 1 and len(document["clusters"][0]["files"]) == 3
    assert b["csv"].read_text() == a["csv"].read_text()
    rows = list(csv.DictReader(b["csv"].open(encoding="utf-8")))
    assert len(rows) == len(document["files"])
    html = b["html"].read_text()
    assert (
        html.split("<h2>Matched files</h2>")[1]
        == a["html"].read_text().split("<h2>Matched files</h2>")[1]
    )
    assert "holiday.zip!photos/beach.jpg" in html and "<img" not in html
    manifest = b["manifest"].read_text()
    assert len(manifest.splitlines()) == 3 and "report.json" in manifest


def test_the_clustering_keeps_a_bounded_number_of_hashes(tmp_path: Path) -> None:
    case = build_demo_case(tmp_path / "demo")
    full = run_scan([case.evidence], case.bank)
    clusterable = [
        f for f in full.files if f.status == "unknown" and f.pdq and (f.pdq_quality or 0) >= 50
    ]
    assert full.record["images_not_clustered"] == 0 and len(clusterable) > 3
    capped = run_scan([case.evidence], case.bank, max_cluster_images=2)
    assert capped.record["images_not_clustered"] == len(clusterable) - 2
    assert sum(len(group) for group in capped.clusters) <= 2
    assert capped.counts == full.counts, "every image is still classified"


_MEASURE = """
import re, sys
from pathlib import Path
from hashwarden.reports import write_case_report
from hashwarden.scan import run_scan
out = Path(sys.argv[3])
result = run_scan([Path(sys.argv[1])], sys.argv[2], spool=out / ".records.jsonl", workers=1)
write_case_report(result, out)
# VmHWM is this address space's peak; getrusage's maxrss would inherit pytest's across exec.
status = Path("/proc/self/status").read_text()
print(len(result.files), re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


def _peak_kib(tmp_path: Path, bank: Path, members: int) -> int:
    case = tmp_path / f"case{members}"
    case.mkdir()
    per_zip = 5_000
    for start in range(0, members, per_zip):
        with zipfile.ZipFile(case / f"z{start:07d}.zip", "w") as archive:
            for n in range(start, min(start + per_zip, members)):
                archive.writestr(f"dir/member-{n:07d}.txt", f"small text member {n}\n")
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(case), str(bank), str(tmp_path / f"out{members}")],
        capture_output=True,
        text=True,
        check=True,
    )
    count, peak = (int(x) for x in out.stdout.split())
    assert count == members + -(-members // per_zip)  # each member and each zip
    return peak


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_records(tmp_path: Path, bank: Bank) -> None:
    small = _peak_kib(tmp_path, bank.path, 3_000)
    large = _peak_kib(tmp_path, bank.path, 25_000)
    # Held in a list, 22,000 more records cost ~22 MiB (~1 KiB each) before any report is
    # written; spooled, the growth is the zip directories being read (~2 MiB).
    print(
        f"scan peak memory: {small / 1024:.0f} MiB at 3,000 records, {large / 1024:.0f} MiB at 25,000"
    )
    assert large - small < 10 * 1024, (small, large)
