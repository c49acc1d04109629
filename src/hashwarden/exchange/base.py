"""What an exchange format is, the options every import takes, and category mapping.

A format reads a byte stream into `NewEntry` objects one at a time (so a file of any size
streams straight into the bank's single all-or-nothing transaction) and writes entries back.
Malformed input raises DataError naming the line, record or field.
"""

from __future__ import annotations

import io
from collections import Counter
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
    "Exported",
    "Format",
    "ImportOptions",
    "export_entries",
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
    #: The signal kinds the format has a place for (None: every kind), and why it has none
    #: for the others (`export_entries` reports what it left out with this reason).
    carries: frozenset[str] | None
    no_place: str

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        """Entries of the file, streamed; DataError names where the file is wrong."""
        ...

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        """Write entries; `kinds` are the signal kinds present. Returns the count written."""
        ...


@dataclass
class Exported:
    """What an export wrote, and what its format could not carry: nothing is left out unsaid."""

    written: int
    #: What `written` counts: "entries", or "hashes" for formats of one hash a line or a
    #: Bloom filter (its distinct hashes).
    noun: str
    #: Values of each kind the format has no place for (kinds of the export only).
    left_out: dict[str, int]
    #: Entries not written at all: they hold none of the kinds the format carries.
    entries_left_out: int
    #: Why (the format's `no_place`).
    reason: str
    carried: list[str]

    def message(self, destination: str | None) -> str:
        """`wrote 4 entries to F; left out 12 pdq, 3 ed2k: ICSE has no column for them; ...`
        (without `destination`, only what was left out, empty when nothing was)."""
        parts = [f"wrote {self.written} {self.noun} to {destination}"] if destination else []
        if self.left_out:
            ranked = sorted(self.left_out.items(), key=lambda kv: (-kv[1], kv[0]))
            counts = ", ".join(f"{n} {kind}" for kind, n in ranked)
            parts.append(f"left out {counts}: {self.reason}")
        if self.entries_left_out:
            noun = "entry" if self.entries_left_out == 1 else "entries"
            parts.append(
                f"left out {self.entries_left_out} {noun} holding none of {', '.join(self.carried)}"
            )
        return "; ".join(parts)


def export_entries(
    fmt: Format, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]
) -> Exported:
    """Write entries in a format, counting the values of `kinds` it has no place for and the
    entries it writes nothing of, as they stream past."""
    carried = [k for k in kinds if fmt.carries is None or k in fmt.carries]
    wanted, carried_set = set(kinds), set(carried)
    left_out: Counter[str] = Counter()
    skipped = 0

    def counted() -> Iterator[Entry]:
        nonlocal skipped
        for entry in entries:
            mine = [s.kind for s in entry.signals if s.kind in wanted]
            dropped = [kind for kind in mine if kind not in carried_set]
            left_out.update(dropped)
            if mine and len(dropped) == len(mine):
                skipped += 1
            yield entry

    written = fmt.write(counted(), stream, kinds)
    noun = "hashes" if fmt.name in ("plain", "hma", "bloom") else "entries"
    return Exported(written, noun, dict(left_out), skipped, fmt.no_place, carried)


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
