"""The case report of a scan: JSON for tools, CSV for spreadsheets, HTML for people.

No image is ever embedded: the report lists paths, hashes and matches only. A manifest records
the SHA-256 of each report file, so a copy handed on can be checked against the original.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from html import escape
from pathlib import Path

from hashwarden.scan.pipeline import STATUSES, FileRecord, ScanResult

__all__ = ["CSV_COLUMNS", "write_case_report"]

CSV_COLUMNS = [
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


def _csv_row(f: FileRecord) -> dict[str, object]:
    best = f.matches[0] if f.matches else None
    return {
        "path": f.path,
        "status": f.status,
        "size": f.size,
        "md5": f.md5,
        "sha1": f.sha1,
        "sha256": f.sha256,
        "pdq": f.pdq,
        "pdq_quality": f.pdq_quality,
        "media_type": f.media_type,
        "match_entry": best.entry if best else None,
        "match_kind": best.kind if best else None,
        "match_distance": best.distance if best else None,
        "match_category": best.category if best else None,
        "match_series": best.series if best else None,
        "known_good": ";".join(f.known_good),
        "cluster": f.cluster,
        "error": f.error,
        "notes": "; ".join(f.notes),
    }


def write_case_report(result: ScanResult, out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.csv, report.html and manifest.sha256 into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "csv": out_dir / "report.csv",
        "html": out_dir / "report.html",
    }
    document = {
        "scan": result.record,
        "files": [f.to_json() for f in result.files],
        "clusters": [
            {"cluster": n, "files": [result.files[i].path for i in group]}
            for n, group in enumerate(result.clusters, start=1)
        ],
    }
    paths["json"].write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for f in result.files:
            writer.writerow(_csv_row(f))
    paths["html"].write_text(_html(result), encoding="utf-8")
    manifest = out_dir / "manifest.sha256"
    manifest.write_text(
        "".join(
            f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in paths.values()
        ),
        encoding="utf-8",
    )
    paths["manifest"] = manifest
    return paths


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f23;
max-width:80rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;
white-space:pre-line}
th{background:#f3f4f6}td.h{font-family:ui-monospace,monospace;font-size:.75rem;word-break:break-all}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.8rem 1.2rem;min-width:8rem}.card b{display:block;font-size:1.6rem}
.matched b{color:#b42318}.unknown b{color:#7a5b00}.known_good b{color:#1a7f37}.error b{color:#57606a}
.meta td:first-child{width:12rem;font-weight:600}.note{color:#57606a;font-size:.85rem}
@media print{body{margin:0}.card{break-inside:avoid}}
"""


def _table(headers: list[str], rows: list[list[str]], hash_cols: set[int] | None = None) -> str:
    if not rows:
        return "<p class=note>None.</p>"
    hash_cols = hash_cols or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=h' if i in hash_cols else ''}>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(result: ScanResult) -> str:
    rec = result.record
    counts = result.counts
    cards = "".join(
        f"<div class='card {s}'><b>{counts[s]}</b>{s.replace('_', ' ')}</div>" for s in STATUSES
    )
    meta = _table(
        ["field", "value"],
        [
            ["tool", f"{rec['tool']} {rec['version']} (Python {rec['python']})"],
            ["bank", rec["bank"]],
            ["bank fingerprint", rec["bank_fingerprint"]],
            ["inputs", ", ".join(rec["inputs"])],
            ["PDQ threshold", str(rec["threshold"])],
            ["started", rec["started"]],
            ["finished", rec["finished"]],
        ],
    ).replace("<table>", "<table class=meta>", 1)
    by_category = _table(
        ["category", "files"], [[c, str(n)] for c, n in rec["matched_by_category"].items()]
    )
    matched = [
        [
            f.path,
            m.category,
            m.series or "",
            f"{m.kind} ({m.distance})",
            str(m.entry),
            f.sha256 or "",
        ]
        for f in result.files
        if f.status == "matched"
        for m in f.matches[:1]
    ]
    clusters = [
        [str(n), str(len(group)), "\n".join(result.files[i].path for i in group)]
        for n, group in enumerate(result.clusters, start=1)
    ]
    errors = [[f.path, f.error or ""] for f in result.files if f.status == "error"]
    noted = [[f.path, "; ".join(f.notes)] for f in result.files if f.notes]
    kinds = Counter(f.media_type or "other" for f in result.files if f.status != "error")
    media = _table(["media type", "files"], [[k, str(n)] for k, n in sorted(kinds.items())])
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>hashwarden case report</title>
<meta name=viewport content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>hashwarden case report</h1>
<p class=note>No image is shown in this report: files are identified by path and hash only.</p>
<div class=cards>{cards}</div>
<h2>Scan record</h2>{meta}
<h2>Matched files by category</h2>{by_category}
<h2>Matched files</h2>{_table(["path", "category", "series", "match (distance)", "entry", "sha256"], matched, {5})}
<h2>Candidate new series (clusters of unknown images)</h2>
<p class=note>Unknown images that are near duplicates of each other: possibly new material of one series.</p>
{_table(["cluster", "files", "paths"], clusters)}
<h2>Errors</h2>{_table(["path", "reason"], errors)}
<h2>Notes</h2>{_table(["path", "note"], noted)}
<h2>Files read by media type</h2>{media}
</body></html>
"""
