"""Line- and table-shaped formats: plain hash lists, CSV with a header, Interpol ICSE-style
semicolon exports, and python-threatexchange / HMA dataset CSVs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from hashwarden.bank.base import Entry, NewEntry
from hashwarden.errors import DataError
from hashwarden.exchange.base import (
    ImportOptions,
    map_category,
    parse_bool,
    signal_or_error,
    text_stream,
)
from hashwarden.exchange.plain import read_plain, write_plain
from hashwarden.signals.registry import default_registry

__all__ = ["CsvFormat", "HmaFormat", "IcseFormat", "PlainFormat"]

csv.field_size_limit(16 * 1024 * 1024)  # vPDQ values of long videos are long


def _rows(stream: BinaryIO, name: str, delimiter: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(text_stream(stream), delimiter=delimiter)
    try:
        if not reader.fieldnames:
            raise DataError(f"{name}: empty file, expected a header row")
        for row in reader:
            line = reader.line_num
            if None in row:
                raise DataError(f"{name} line {line}: more fields than the header names")
            yield line, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


#: The deepest nesting an imported `extra` may have: deeper would fail to be written back.
MAX_EXTRA_DEPTH = 32


def _depth(value: object) -> int:
    """How deeply a JSON value nests (without recursion)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            pending.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, level + 1) for v in item)
    return deepest


def _text_out(stream: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)


class PlainFormat:
    """One hash a line, or `<kind> <value>` (python-threatexchange's local file form)."""

    name = "plain"
    writable = True
    carries: frozenset[str] | None = None
    no_place = ""

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        try:
            for _, signal in read_plain(text_stream(stream), kind=options.kind, name=name):
                yield NewEntry([signal], options.category, options.series, source=options.source)
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        out = _text_out(stream)
        signals = (s for e in entries for s in e.signals if s.kind in kinds)
        count = write_plain(signals, out, with_kind=len(kinds) != 1)
        out.detach()
        return count


_FIELDS = ["category", "series", "victim_identified", "source", "first_seen", "note"]


class CsvFormat:
    """A header row; a column per signal kind (md5, sha1, sha256, pdq, ...) and per field, and
    `extra` (JSON) for everything else; unknown columns are kept in the entry's extra."""

    name = "csv"
    writable = True
    carries: frozenset[str] | None = None
    no_place = ""

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        kinds = set(default_registry().names())
        for line, row in _rows(stream, name, ","):
            where = f"{name} line {line}"
            signals = [signal_or_error(k, v, where) for k, v in row.items() if k in kinds and v]
            if not signals:
                raise DataError(
                    f"{where}: no hash in any of the columns {', '.join(sorted(kinds))}"
                )
            extra: dict[str, object] = {
                k: v for k, v in row.items() if k not in kinds and k not in _FIELDS and v
            }
            if "extra" in extra:
                try:
                    kept = json.loads(str(extra.pop("extra")))
                except RecursionError as exc:
                    raise DataError(f"{where}: the extra column is nested too deeply") from exc
                except ValueError as exc:
                    raise DataError(f"{where}: the extra column is not JSON ({exc})") from exc
                if not isinstance(kept, dict):
                    raise DataError(f"{where}: the extra column is not a JSON object")
                if _depth(kept) > MAX_EXTRA_DEPTH:
                    raise DataError(
                        f"{where}: the extra column is nested too deeply (over"
                        f" {MAX_EXTRA_DEPTH} levels)"
                    )
                extra.update(kept)
            yield NewEntry(
                signals,
                map_category(row.get("category"), options, where),
                row.get("series") or options.series,
                parse_bool(row.get("victim_identified"), where),
                row.get("source") or options.source,
                row.get("first_seen") or None,
                row.get("note") or None,
                extra,
            )

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        out = _text_out(stream)
        writer = csv.DictWriter(out, fieldnames=[*kinds, *_FIELDS, "extra"], extrasaction="ignore")
        writer.writeheader()
        count = 0
        for entry in entries:
            row: dict[str, object] = {s.kind: s.value for s in entry.signals}
            row.update(
                category=entry.category,
                series=entry.series,
                victim_identified="yes" if entry.victim_identified else "no",
                source=entry.source,
                first_seen=entry.first_seen,
                note=entry.note,
                extra=json.dumps(entry.extra, ensure_ascii=False) if entry.extra else "",
            )
            writer.writerow(row)
            count += 1
        out.detach()
        return count


ICSE_COLUMNS = [
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Number of submissions",
    "File Available",
    "Media Type",
]
_ICSE_SIGNALS = {"MD5": "md5", "SHA1": "sha1", "PhotoDNA": "photodna"}
_ICSE_OWN = {"Victim identified", "Series name", *_ICSE_SIGNALS}


class IcseFormat:
    """Interpol ICSE-style exports: semicolon-separated, the columns in ICSE_COLUMNS. They
    carry no category: entries take --category (and keep the other columns for export)."""

    name = "icse"
    writable = True
    carries: frozenset[str] | None = frozenset(_ICSE_SIGNALS.values())
    no_place = "ICSE has no column for them"

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        for line, row in _rows(stream, name, ";"):
            where = f"{name} line {line}"
            signals = [
                signal_or_error(kind, row[column], where)
                for column, kind in _ICSE_SIGNALS.items()
                if row.get(column)
            ]
            if not signals:
                raise DataError(f"{where}: neither MD5, SHA1 nor PhotoDNA is given")
            yield NewEntry(
                signals,
                options.category,
                row.get("Series name") or options.series,
                parse_bool(row.get("Victim identified"), where),
                options.source,
                extra={f"icse:{k}": v for k, v in row.items() if k not in _ICSE_OWN and v},
            )

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        out = _text_out(stream)
        writer = csv.DictWriter(out, fieldnames=ICSE_COLUMNS, delimiter=";", extrasaction="ignore")
        writer.writeheader()
        count = 0
        for entry in entries:
            row: dict[str, object] = {
                column: (entry.signal(kind) or "").upper()
                if kind != "photodna"
                else entry.signal(kind) or ""
                for column, kind in _ICSE_SIGNALS.items()
            }
            if not any(row.values()):
                continue  # ICSE rows need MD5, SHA1 or PhotoDNA
            row["Series name"] = entry.series or ""
            row["Victim identified"] = "Yes" if entry.victim_identified else "No"
            row.update({k[5:]: v for k, v in entry.extra.items() if k.startswith("icse:")})
            writer.writerow(row)
            count += 1
        out.detach()
        return count


#: Our kinds → the python-threatexchange / HMA signal type written for them.
HMA_NAMES = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256"}
_HMA_KINDS = frozenset(HMA_NAMES)
#: HMA / python-threatexchange signal type names read → ours (`md5`, `photo_md5`: older names).
HMA_TYPES = {
    "pdq": "pdq",
    "video_md5": "md5",
    "md5": "md5",
    "photo_md5": "md5",
    "video_sha256": "sha256",
}
#: python-threatexchange's aggregate opinion categories, which `threatexchange dataset --csv`
#: writes in the category column: they say how sure, not what content, so entries take
#: --category; a NEGATIVE_CLASS row (a known false positive or test data) is refused.
PYTX_OPINIONS = frozenset({"POSITIVE_CLASS", "INVESTIGATION_SEED", "DISPUTED", "NEGATIVE_CLASS"})
HMA_HEADER = ["signal_type", "signal_str", "collab", "category", "tags"]


class HmaFormat:
    """python-threatexchange / HMA dataset CSV: signal_type, signal_str, collab, category, tags,
    as `threatexchange dataset --csv` writes it (a header row; rows without one are read too).
    Its category column holds either our category or pytx's opinion (POSITIVE_CLASS, ...)."""

    name = "hma"
    writable = True
    carries: frozenset[str] | None = _HMA_KINDS
    no_place = (
        "HMA has no signal type for them (its vpdq is a JSON list of frames with timestamps,"
        " which hashwarden does not keep)"
    )

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        reader = csv.reader(text_stream(stream))
        try:
            for row in reader:
                line = reader.line_num
                where = f"{name} line {line}"
                if not row or (line == 1 and row[0].strip() == "signal_type"):
                    continue
                if len(row) < 2:
                    raise DataError(
                        f"{where}: expected signal_type,signal_str[,collab,category,tags]"
                    )
                yield self._entry(row, options, where)
        except csv.Error as exc:
            raise DataError(f"{name} line {reader.line_num}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc

    @staticmethod
    def _entry(row: list[str], options: ImportOptions, where: str) -> NewEntry:
        signal_type = row[0].strip().lower()
        if signal_type not in HMA_TYPES:
            raise DataError(
                f"{where}: signal type {row[0]!r} is not one hashwarden keeps"
                f" ({', '.join(HMA_TYPES)})"
            )
        kind = HMA_TYPES[signal_type]
        collab = row[2].strip() if len(row) > 2 else ""
        category_text = row[3].strip() if len(row) > 3 else ""
        tags = [t for t in (row[4].split() if len(row) > 4 else []) if t]
        extra: dict[str, object] = (
            {"hma:signal_type": signal_type} if signal_type != HMA_NAMES[kind] else {}
        )
        if tags:
            extra["hma:tags"] = tags
        if category_text.upper() in PYTX_OPINIONS:
            if category_text.upper() == "NEGATIVE_CLASS":
                raise DataError(
                    f"{where}: opinion NEGATIVE_CLASS marks a known false positive or test data;"
                    " leave such rows out of the file (or import them as a known-good set)"
                )
            extra["hma:opinion"] = category_text.upper()
            category = options.category
        else:
            category = map_category(category_text, options, where)
        return NewEntry(
            [signal_or_error(kind, row[1], where)],
            category,
            options.series,
            source=collab or options.source,
            extra=extra,
        )

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        out = _text_out(stream)
        writer = csv.writer(out)
        writer.writerow(HMA_HEADER)
        count = 0
        for entry in entries:
            recorded = str(entry.extra.get("hma:signal_type", ""))
            tags = entry.extra.get("hma:tags", [])
            for signal in entry.signals:
                if signal.kind not in _HMA_KINDS or signal.kind not in kinds:
                    continue
                same = HMA_TYPES.get(recorded) == signal.kind
                writer.writerow(
                    [
                        recorded if same else HMA_NAMES[signal.kind],
                        signal.value,
                        entry.source or "",
                        entry.category,
                        " ".join(str(t) for t in tags) if isinstance(tags, list) else "",
                    ]
                )
                count += 1
        out.detach()
        return count
