"""The retro-hunt's report: `retro.json` for programs, `retro.html` for people; per case, each
newly matched file with its path, hashes and the match. No image, only paths and hashes."""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

from hashwarden.cases.retro import RetroResult
from hashwarden.errors import ConflictError, UsageError

__all__ = ["REPORT_FILES", "prepare_out", "write_retro_report"]

REPORT_FILES = ("retro.json", "retro.html")

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f23;max-width:80rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.h{font-family:ui-monospace,monospace;font-size:.75rem;word-break:break-all}
.note{color:#57606a;font-size:.85rem}
"""


def prepare_out(out: Path, *, force: bool) -> None:
    """Make `--out`, refusing to overwrite a report in it unless `force` (exit 9)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    found = [name for name in REPORT_FILES if (out / name).exists()]
    if found and not force:
        raise ConflictError(f"{out} holds a retro report already ({found[0]}); use --force")
    out.mkdir(parents=True, exist_ok=True)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _row(found: dict[str, Any]) -> str:
    match = found["match"]
    hashes = "\n".join(f"{k}: {v}" for k, v in found["hashes"].items() if ":" not in k)
    how = match["kind"] + (
        f" (distance {match['distance']}, {match['orientation']})" if match["kind"] == "pdq" else ""
    )
    cells = [
        (found["path"], ""),
        (str(found["size"] if found["size"] is not None else ""), ""),
        (found["status_when_scanned"], ""),
        (hashes, " class=h"),
        (
            f"entry {match['entry']}: {match['category']}"
            + (f", series {match['series']}" if match["series"] else ""),
            "",
        ),
        (how, ""),
    ]
    return "<tr>" + "".join(f"<td{cls}>{escape(text)}</td>" for text, cls in cells) + "</tr>"


def write_retro_report(result: RetroResult, out: Path) -> dict[str, Path]:
    """Write retro.json and retro.html into `out` (made already: `prepare_out`)."""
    paths = {name: out / name for name in REPORT_FILES}
    _write(paths["retro.json"], json.dumps(result.to_json(), indent=1, ensure_ascii=False) + "\n")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("path", "size", "status when scanned", "hashes", "matched entry", "how")
    )
    sections = []
    for case, found in result.files.items():
        rows = "".join(_row(f) for f in found) or "<tr><td colspan=6>nothing new</td></tr>"
        sections.append(
            f"<h2>{escape(case)}: {len(found)} newly matched</h2>"
            f"<p class=note>hunted for entries after bank version {result.since[case]}</p>"
            f"<table><tr>{head}</tr>{rows}</table>"
        )
    html = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>hashwarden retro-hunt</title>
<style>{_CSS}</style></head><body><h1>hashwarden retro-hunt</h1>
<p class=note>No image is shown in this report: files are identified by path and hash only.</p>
<p>Bank {escape(result.bank)} at version {result.version}; {result.entries} new or changed
entries; {result.matched} newly matched files in {len(result.files)} cases; started
{escape(result.started)}, finished {escape(result.finished)}.</p>
{"".join(sections)}
</body></html>
"""
    _write(paths["retro.html"], html)
    return paths
