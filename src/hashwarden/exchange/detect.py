"""Which exchange format a file is in, from its first bytes and its name, when only one fits:
`bank import list.csv` reads a CSV as CSV without `--format csv`."""

from __future__ import annotations

import re

from hashwarden.exchange.tabular import HMA_TYPES, ICSE_COLUMNS
from hashwarden.signals.builtin import default_registry

__all__ = ["SNIFF_BYTES", "detect_format", "format_for_suffix"]

#: How much of a file's start `detect_format` needs.
SNIFF_BYTES = 64 * 1024

_SQLITE = b"SQLite format 3\x00"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SUFFIXES = {
    ".csv": "csv",
    ".json": "vics",
    ".txt": "plain",
    ".db": "nsrl",
    ".sqlite": "nsrl",
    ".sqlite3": "nsrl",
}
_CSV_FIELDS = {"category", "series", "victim_identified", "source", "first_seen", "note", "extra"}


def format_for_suffix(name: str) -> str | None:
    """The format a file name's suffix stands for (`.csv`, `.json`, `.txt`, `.db`), if any."""
    dot = name.rfind(".")
    return _SUFFIXES.get(name[dot:].lower()) if dot > 0 else None


def detect_format(name: str, head: bytes) -> str | None:
    """The format of a file whose name and first bytes (up to SNIFF_BYTES) these are: by its
    content where that is unambiguous (an SQLite file, JSON, an HMA row, a CSV or ICSE header,
    a list of bare hashes), else by its suffix; None when neither tells."""
    return _by_content(head) or format_for_suffix(name)


def _by_content(head: bytes) -> str | None:
    if head.startswith(_SQLITE):
        return "nsrl"
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    if text.lstrip().startswith(("{", "[")):
        return "vics"  # the one JSON format
    line = _first_line(text)
    if line is None:
        return None
    kinds = set(default_registry().names())
    words = line.split()
    if (len(words) == 1 and _HEX.match(words[0])) or (len(words) == 2 and words[0] in kinds):
        return "plain"
    cells = [c.strip().strip('"').strip() for c in line.split(",")]
    if cells[0] == "signal_type" or (
        len(cells) >= 2 and cells[0] in HMA_TYPES and _HEX.match(cells[1])
    ):
        return "hma"
    if ";" in line and {c.strip().strip('"') for c in line.split(";")} & set(ICSE_COLUMNS):
        return "icse"
    if len(cells) > 1 and {c.lower() for c in cells} & (kinds | _CSV_FIELDS):
        return "csv"
    return None


def _first_line(text: str) -> str | None:
    """The first line that is neither blank nor a `#` comment (which only plain lists have)."""
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            return line
    return None
