"""The case report of a scan: JSON for tools, CSV for spreadsheets, HTML for people.

No image is ever embedded: the report lists paths, hashes and matches only. A manifest records
the SHA-256 of each report file, so a copy handed on can be checked against the original.

Every file is written as a stream over the scan's records (which a large scan keeps on disk,
see `RecordSpool`): memory holds one record at a time plus the paths of the clustered images,
never the whole case. A folder holding a report is never written over without `force`
(`prepare_report_dir`): a case report is a record of what was found.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from html import escape
from itertools import islice
from pathlib import Path
from typing import IO, Any

from hashwarden._types import LIMIT_FLAGS, STATUSES, FileRecord, Match, ScanResult
from hashwarden.errors import ConflictError

__all__ = [
    "CSV_COLUMNS",
    "REPORT_FILES",
    "UNKNOWN_LISTED",
    "prepare_report_dir",
    "write_case_report",
]

#: The files a report consists of, in the order the manifest lists the first three.
REPORT_FILES = ("report.json", "report.csv", "report.html", "manifest.sha256")
#: Unknown files listed in the HTML report (a page a browser can open); the CSV and the JSON
#: list every one.
UNKNOWN_LISTED = 10_000

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
    # Added later: kept at the end so spreadsheets reading columns by position still work.
    "match_orientation",
    "match_view",
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
        "match_orientation": best.orientation if best else None,
        "match_view": best.view if best else None,
    }


def _open(path: Path) -> IO[str]:
    return path.open("w", encoding="utf-8", errors="backslashreplace", newline="")


def _nested(value: Any, level: int) -> str:
    """`value` as `json.dumps(..., indent=1)` renders it `level` deep inside a document."""
    return json.dumps(value, indent=1, ensure_ascii=False).replace("\n", "\n" + " " * level)


def _cluster_paths(result: ScanResult) -> list[list[str]]:
    """The paths of each cluster's files, in one pass over the records."""
    where = {
        number: (c, i) for c, group in enumerate(result.clusters) for i, number in enumerate(group)
    }
    paths = [[""] * len(group) for group in result.clusters]
    if where:
        for number, f in enumerate(result.files):
            if number in where:
                c, i = where[number]
                paths[c][i] = f.path
    return paths


def _write_json(result: ScanResult, clusters: list[list[str]], path: Path) -> None:
    """The document `{"scan", "files", "clusters"}` as `json.dumps(indent=1)` would write it,
    one file record at a time."""
    with _open(path) as out:
        out.write('{\n "scan": ' + _nested(result.record, 1) + ',\n "files": [')
        first = True
        for f in result.files:
            out.write(("\n  " if first else ",\n  ") + _nested(f.to_json(), 2))
            first = False
        out.write("]" if first else "\n ]")
        listed = [{"cluster": n, "files": p} for n, p in enumerate(clusters, start=1)]
        out.write(',\n "clusters": ' + _nested(listed, 1) + "\n}")


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def prepare_report_dir(out_dir: Path, spool_name: str, *, force: bool = False) -> None:
    """Make sure a scan may write its report into `out_dir`, before any work is done.

    A folder holding a report, or the records of an interrupted scan (`spool_name`), is refused
    (`ConflictError`, exit 9) unless `force`; with `force` those files are removed now, so a
    forced scan that is interrupted in turn leaves no earlier report beside its records. Other
    files in the folder are left alone.
    """
    found = [name for name in REPORT_FILES if _present(out_dir / name)]
    spool = out_dir / spool_name
    if not force and found:
        raise ConflictError(
            f"{out_dir} holds a report already; use --force to overwrite or choose another --out"
        )
    if not force and _present(spool):
        raise ConflictError(
            f"{out_dir} holds the records of an interrupted scan ({spool_name}); use --force "
            "to overwrite or choose another --out"
        )
    if not force:
        return
    for name in [*found, spool_name]:
        try:
            (out_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            raise ConflictError(
                f"cannot remove {out_dir / name} ({exc.strerror or exc}); choose another --out"
            ) from exc


def write_case_report(result: ScanResult, out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.csv, report.html and manifest.sha256 into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = ("json", "csv", "html")
    paths = {kind: out_dir / name for kind, name in zip(kinds, REPORT_FILES[:3], strict=True)}
    clusters = _cluster_paths(result)
    _write_json(result, clusters, paths["json"])
    with _open(paths["csv"]) as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for f in result.files:
            writer.writerow(_csv_row(f))
    with _open(paths["html"]) as stream:
        _write_html(result, clusters, stream)
    manifest = out_dir / REPORT_FILES[3]
    lines = []
    for p in paths.values():
        with p.open("rb") as written:
            lines.append(f"{hashlib.file_digest(written, 'sha256').hexdigest()}  {p.name}\n")
    manifest.write_text("".join(lines), encoding="utf-8")
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
.container b{color:#57606a}
.meta td:first-child{width:12rem;font-weight:600}.note{color:#57606a;font-size:.85rem}
.cut{border:2px solid #b42318;border-radius:6px;padding:.6rem 1rem;color:#b42318}
@media print{body{margin:0}.card{break-inside:avoid}}
"""


def _rows(
    headers: list[str], rows: Iterable[list[str]], hash_cols: set[int] | None = None
) -> Iterable[str]:
    """A table as pieces of HTML, one row at a time ("None." when there is no row)."""
    hash_cols = hash_cols or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    empty = True
    for row in rows:
        if empty:
            yield f"<table><thead><tr>{head}</tr></thead><tbody>"
            empty = False
        yield (
            "<tr>"
            + "".join(
                f"<td{' class=h' if i in hash_cols else ''}>{escape(cell)}</td>"
                for i, cell in enumerate(row)
            )
            + "</tr>"
        )
    yield "<p class=note>None.</p>" if empty else "</tbody></table>"


def _table(headers: list[str], rows: list[list[str]], hash_cols: set[int] | None = None) -> str:
    return "".join(_rows(headers, rows, hash_cols))


def _cut_short(rec: dict[str, Any]) -> str:
    """A warning naming the limits that cut the scan short, or nothing for a complete scan."""
    cut = rec.get("cut_short") or {}
    if not cut:
        return ""
    limits = ", ".join(
        f"{LIMIT_FLAGS.get(name, name)} {rec['limits'].get(name, '')} ({n} time{'s' * (n != 1)})"
        for name, n in cut.items()
    )
    return (
        "<p class=cut><b>This scan was cut short</b>: some content was not read because it "
        f"reached a limit: {escape(limits)}. The records of what was cut are listed under "
        "Errors (they say \u201ccut short\u201d); raise the limit and scan again to read it.</p>"
    )


def _view(match: Match) -> str:
    """How a match was found: the turn, trim or frame of a PDQ match ("original" as is) and the
    views that met ("query view/banked view"), and for a video the shares of frames found."""
    if match.query_match is None:
        return match.orientation + (f", view {match.view}" if match.view else "")
    shares = f"{match.query_match:.0f}% of its frames found"
    if match.compared_match is not None:
        shares += f", {match.compared_match:.0f}% of the entry's"
    return shares


def _write_unknown(result: ScanResult, total: int, out: IO[str]) -> None:
    """The first `UNKNOWN_LISTED` unknown files (path, size, hashes), and how many more."""
    unknown = (f for f in result.files if f.status == "unknown")
    rows = (
        [
            f.path,
            f"{f.size:,}" if f.size is not None else "",
            f.media_type or "",
            f.md5 or "",
            f.sha256 or "",
            f.pdq or "",
            str(f.cluster or ""),
        ]
        for f in islice(unknown, UNKNOWN_LISTED)
    )
    headers = ["path", "size (bytes)", "media type", "md5", "sha256", "pdq", "cluster"]
    out.writelines(_rows(headers, rows, {3, 4, 5}))
    unknown.close()
    if total > UNKNOWN_LISTED:
        out.write(
            f"<p class=note>{total - UNKNOWN_LISTED:,} more unknown files are not listed here "
            f"(the first {UNKNOWN_LISTED:,} are): report.csv and report.json list every file."
            "</p>"
        )


def _write_html(result: ScanResult, clusters: list[list[str]], out: IO[str]) -> None:
    rec = result.record
    counts = result.counts
    cards = "".join(
        f"<div class='card {s}'><b>{counts.get(s, 0)}</b>{s.replace('_', ' ')}</div>"
        for s in STATUSES
    )
    read = rec.get("read") or {}
    rows = [
        ["tool", f"{rec['tool']} {rec['version']} (Python {rec['python']})"],
        ["bank", rec["bank"]],
        ["bank fingerprint", rec["bank_fingerprint"]],
        ["inputs", ", ".join(rec["inputs"])],
        ["PDQ threshold", str(rec["threshold"])],
        ["started", rec["started"]],
        ["finished", rec["finished"]],
    ]
    if "complete" in rec:
        rows.append(["complete", "yes" if rec["complete"] else "no: cut short by a limit"])
        rows.append(
            [
                "read",
                f"{read.get('records', 0):,} records, {read.get('archive_members', 0):,} archive "
                f"members, {read.get('expanded_bytes', 0):,} bytes expanded, nested "
                f"{read.get('deepest', 0)} deep",
            ]
        )
    if rec.get("images_not_clustered"):
        rows.append(["not clustered", f"{rec['images_not_clustered']:,} unknown images (limit)"])
    meta = _table(["field", "value"], rows).replace("<table>", "<table class=meta>", 1)
    by_category = _table(
        ["category", "files"], [[c, str(n)] for c, n in rec["matched_by_category"].items()]
    )
    out.write(f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>hashwarden case report</title>
<meta name=viewport content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>hashwarden case report</h1>
<p class=note>No image is shown in this report: files are identified by path and hash only.</p>
{_cut_short(rec)}<div class=cards>{cards}</div>
<h2>Scan record</h2>{meta}
<h2>Matched files by category</h2>{by_category}
<h2>Matched files</h2>""")
    kinds: Counter[str] = Counter()

    def matched() -> Iterable[list[str]]:
        for f in result.files:
            if f.status != "error":
                kinds[f.media_type or "other"] += 1
            if f.status == "matched":
                for m in f.matches[:1]:
                    kind = f"{m.kind} ({m.distance})"
                    yield [
                        f.path,
                        m.category,
                        m.series or "",
                        kind,
                        _view(m),
                        str(m.entry),
                        f.sha256 or "",
                    ]

    headers = [
        "path",
        "category",
        "series",
        "match (distance)",
        "orientation / view",
        "entry",
        "sha256",
    ]
    out.write(
        "\n<p class=note>Each file's strongest match: a SHA-256, SHA-1 or MD5 of the same "
        "bytes first, then other exact identifiers, then near matches by distance; "
        "report.json lists every match.</p>"
    )
    out.writelines(_rows(headers, matched(), {6}))
    listed = [[str(n), str(len(p)), "\n".join(p)] for n, p in enumerate(clusters, start=1)]
    out.write(f"""
<h2>Candidate new series (clusters of unknown images)</h2>
<p class=note>Unknown images that are near duplicates of each other: possibly new material of one series.</p>
{_table(["cluster", "files", "paths"], listed)}
<h2>Unknown files</h2>
<p class=note>Files no bank entry or known-good set accounts for: the material to look at.
Archives are not listed here (their members are).</p>""")
    _write_unknown(result, counts.get("unknown", 0), out)
    out.write("\n<h2>Errors</h2>")
    errors = ([f.path, f.error or ""] for f in result.files if f.status == "error")
    out.writelines(_rows(["path", "reason"], errors))
    out.write("\n<h2>Notes</h2>")
    noted = ([f.path, "; ".join(f.notes)] for f in result.files if f.notes)
    out.writelines(_rows(["path", "note"], noted))
    media = _table(["media type", "files"], [[k, str(n)] for k, n in sorted(kinds.items())])
    out.write(f"""
<h2>Files read by media type</h2>{media}
</body></html>
""")
