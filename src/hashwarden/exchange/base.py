"""What an exchange format is, the options every import takes, and category mapping.

A format reads a byte stream into `NewEntry` objects one at a time (so a file of any size
streams straight into the bank's single all-or-nothing transaction) and writes entries back.
Malformed input raises DataError naming the line, record or field.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Protocol, TextIO

from hashwarden.bank.base import Entry, NewEntry
from hashwarden.bank.categories import CATEGORIES, PROJECT_VIC, PROJECT_VIC_LEGACY, UK
from hashwarden.errors import DataError, HashwardenError, UsageError
from hashwarden.signals.base import Signal
from hashwarden.signals.registry import default_registry

__all__ = [
    "CATEGORY_SCHEMES",
    "FILE_NAME_KEYS",
    "Format",
    "ImportOptions",
    "map_category",
    "parse_bool",
    "shareable",
    "signal_or_error",
    "text_stream",
]

CATEGORY_SCHEMES = ("vic", "vic-legacy", "uk")


@dataclass
class ImportOptions:
    """What the user said about a file: kinds, categories, provenance."""

    kind: str | None = None
    #: How bare category numbers are read: Project VIC (US) or its legacy numbering; under
    #: "uk" only the letters A, B, C are categories. Our own names are always understood.
    category_scheme: str = "vic"
    #: The file's category → ours, for categories no scheme knows (`--map-category X=Y`).
    category_map: dict[str, str] = field(default_factory=dict)
    #: The category of records that carry none.
    category: str = "uncategorised"
    series: str | None = None
    source: str | None = None


class Format(Protocol):
    name: str
    #: False for formats hashwarden only reads (NSRL).
    writable: bool

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        """Entries of the file, streamed; DataError names where the file is wrong."""
        ...

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        """Write entries; `kinds` are the signal kinds present. Returns the count written."""
        ...


#: Keys of an entry's `extra` that hold original file names or paths: `file_name` (what
#: `bank add-files` records), `file_path`, and VICS media's `MediaFiles` (each file's name and
#: path on the seized device), `FileName`, `FilePath`. Real names of this material often
#: describe or identify a person, so they stay in the bank unless an export asks for them.
FILE_NAME_KEYS = frozenset({"file_name", "file_path", "MediaFiles", "FileName", "FilePath"})


def shareable(entry: Entry, *, file_names: bool = False, notes: bool = False) -> Entry:
    """The entry as it may leave this bank: without original file names (`FILE_NAME_KEYS` of
    its extra) unless `file_names`, and without its free-text note unless `notes`. The entry
    itself is not changed; the bank keeps what it holds."""
    extra = (
        entry.extra
        if file_names
        else {k: v for k, v in entry.extra.items() if k not in FILE_NAME_KEYS}
    )
    return replace(entry, extra=extra, note=entry.note if notes else None)


def text_stream(stream: BinaryIO) -> TextIO:
    """Text over a byte stream: UTF-8, a byte-order mark tolerated, bad bytes a DataError."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def map_category(raw: object, options: ImportOptions, where: str) -> str:
    """Our category for a file's category value; DataError naming it when nothing maps it."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return options.category
    if text in options.category_map:
        return options.category_map[text]
    lowered = text.lower()
    if lowered in CATEGORIES:
        return lowered
    if text.upper() in UK:  # letters are unambiguous whatever the scheme
        return UK[text.upper()]
    if text.isdigit() and options.category_scheme in ("vic", "vic-legacy"):
        scheme = PROJECT_VIC_LEGACY if options.category_scheme == "vic-legacy" else PROJECT_VIC
        if int(text) in scheme:
            return scheme[int(text)]
    raise DataError(
        f"{where}: category {text!r} has no mapping under the {options.category_scheme} scheme;"
        f" give one with --map-category '{text}=<category>'"
    )


def parse_bool(raw: object, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = "" if raw is None else str(raw).strip().lower()
    if text in ("", "0", "false", "no", "n", "f"):
        return False
    if text in ("1", "true", "yes", "y", "t"):
        return True
    raise DataError(f"{where}: {raw!r} is not a yes/no value")


def signal_or_error(kind: str, value: object, where: str) -> Signal:
    try:
        return default_registry().signal(kind, str(value))
    except HashwardenError as exc:
        raise DataError(f"{where}: {exc}") from exc


def check_category_map(pairs: list[str]) -> dict[str, str]:
    """`X=Y` pairs from the command line to a mapping onto our category names."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or target.strip().lower() not in CATEGORIES:
            raise UsageError(
                f"--map-category {pair!r}: write FILE_CATEGORY=OUR_CATEGORY, ours one of "
                f"{', '.join(CATEGORIES)}"
            )
        mapping[source.strip()] = target.strip().lower()
    return mapping
