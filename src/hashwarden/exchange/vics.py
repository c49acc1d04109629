"""Project VIC (VICS) JSON: versions 1.x (`odata.metadata`) and 2.0 (`@odata.context`), hash
sets (`#Media`) and cases (`#Cases`, each case holding `Media`). Parsed streaming with ijson,
so files of hundreds of thousands of media import in bounded memory.

Every media field hashwarden does not model is kept with the entry and written back. Our finer
category (UK grade) travels in `HashwardenCategory`, so a round trip loses nothing while
other tools read the standard `Category` number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import ijson

from hashwarden.bank.base import Entry, NewEntry
from hashwarden.bank.categories import CATEGORIES, to_project_vic
from hashwarden.errors import DataError
from hashwarden.exchange.base import ImportOptions, map_category, parse_bool, signal_or_error

__all__ = ["CONTEXT_V2", "VicsFormat"]

CONTEXT_V2 = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
_HEADER = re.compile(rb'"(odata\.metadata|@odata\.context)"\s*:\s*"([^"]{0,2000})"')
_SIGNALS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "PhotoDNA": "photodna"}
_OWN = {*_SIGNALS, "Category", "Series", "VictimIdentified", "HashwardenCategory"}


class _Chained:
    """The bytes already read to find the header, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        cut = len(self._head) if size < 0 else size
        chunk, self._head = self._head[:cut], self._head[cut:]
        return chunk


class VicsFormat:
    name = "vics"
    writable = True

    def read(self, stream: BinaryIO, options: ImportOptions, name: str) -> Iterator[NewEntry]:
        head = stream.read(65536)
        found = _HEADER.search(head)
        if not found:
            raise DataError(f"{name}: not a Project VIC file (no odata.metadata or @odata.context)")
        key, context = found.group(1).decode(), found.group(2).decode("utf-8", "replace")
        if "ProjectVic" not in context and "projectvic" not in context.lower():
            raise DataError(f"{name}: {key} {context!r} does not name a Project VIC data model")
        if "#Media" not in context and "#Cases" not in context:
            raise DataError(f"{name}: {key} names neither #Media nor #Cases")
        if "/UK/" in context and options.category_scheme == "vic":
            options = ImportOptions(**{**options.__dict__, "category_scheme": "uk"})
        count = 0
        try:
            for record in ijson.items(_Chained(head, stream), "value.item", use_float=True):
                if not isinstance(record, dict):
                    raise DataError(f"{name}: value item {count + 1} is not an object")
                if "Media" in record:
                    case = {k: v for k, v in record.items() if k != "Media"}
                    media = record["Media"]
                    if not isinstance(media, list):
                        raise DataError(
                            f"{name}: case {case.get('CaseID', count)}: Media is not a list"
                        )
                    for item in media:
                        count += 1
                        yield self._entry(item, options, f"{name} media {count}", case)
                else:
                    count += 1
                    yield self._entry(record, options, f"{name} media {count}", None)
        except ijson.JSONError as exc:
            raise DataError(f"{name}: malformed JSON after media {count}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: not UTF-8 ({exc.reason})") from exc

    @staticmethod
    def _entry(
        item: Any, options: ImportOptions, where: str, case: dict[str, Any] | None
    ) -> NewEntry:
        if not isinstance(item, dict):
            raise DataError(f"{where}: not an object")
        signals = [
            signal_or_error(kind, item[field], where)
            for field, kind in _SIGNALS.items()
            if item.get(field)
        ]
        if not signals:
            raise DataError(f"{where}: no MD5, SHA1, SHA256 or PhotoDNA")
        ours = item.get("HashwardenCategory")
        category = (
            str(ours)
            if isinstance(ours, str) and ours in CATEGORIES
            else map_category(item.get("Category"), options, where)
        )
        extra = {k: v for k, v in item.items() if k not in _OWN}
        if case:
            extra["vics:case"] = case
        series = item.get("Series")
        return NewEntry(
            signals,
            category,
            str(series) if series else options.series,
            parse_bool(item.get("VictimIdentified"), where),
            options.source,
            extra=extra,
        )

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        stream.write(b'{"@odata.context":' + json.dumps(CONTEXT_V2).encode() + b',"value":[')
        count = 0
        for entry in entries:
            media: dict[str, Any] = {k: v for k, v in entry.extra.items() if k != "vics:case"}
            for field, kind in _SIGNALS.items():
                value = entry.signal(kind)
                if value:
                    media[field] = value.upper() if kind != "photodna" else value
            number = to_project_vic(entry.category)
            if number is not None:
                media["Category"] = number
            media["HashwardenCategory"] = entry.category
            if entry.series:
                media["Series"] = entry.series
            media["VictimIdentified"] = entry.victim_identified
            if not any(f in media for f in _SIGNALS):
                continue  # VICS media are named by MD5, SHA1 or PhotoDNA
            stream.write((b"," if count else b"") + json.dumps(media, ensure_ascii=False).encode())
            count += 1
        stream.write(b"]}\n")
        return count
