"""Project VIC (VICS) JSON: versions 1.x (`odata.metadata`) and 2.0 (`@odata.context`), hash
sets (`#Media`) and cases (`#Cases`, each case holding `Media`). Parsed streaming with ijson,
so files of hundreds of thousands of media import in bounded memory.

Every media field hashwarden does not model is kept with the entry and written back. Our finer
category (UK grade) travels in `HashwardenCategory`, so a round trip loses nothing while
other tools read the standard `Category` number.

Kinds VICS has no named field for (PDQ, vPDQ, P2P identifiers, NCMEC's fingerprint types) travel
in the media's `AlternativeHashes` list of `{"HashName", "HashValue"}`, the place VICS 2.0 files
written by forensic tools give PhotoDNA and other hashes: `PDQ`, `ED2K`, ... (our kind's name in
upper case). Read back, a name hashwarden knows becomes that kind (any case; `PhotoDNA` too);
others stay in the entry's extra and are written back as they came.
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
from hashwarden.signals.base import Signal
from hashwarden.signals.builtin import default_registry

__all__ = ["CONTEXT_V2", "VicsFormat"]

CONTEXT_V2 = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
_HEADER = re.compile(rb'"(odata\.metadata|@odata\.context)"\s*:\s*"([^"]{0,2000})"')
_SIGNALS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "PhotoDNA": "photodna"}
_OWN = {*_SIGNALS, "Category", "Series", "VictimIdentified", "HashwardenCategory"}
_ALTERNATIVE = "AlternativeHashes"
_NAMED = frozenset(_SIGNALS.values())
#: Alternative hash names other tools write for kinds of ours (compared in lower case).
_ALTERNATIVE_NAMES = {"photodna": "photodna", "sha-1": "sha1", "sha-256": "sha256"}


def _alternative_hashes(item: dict[str, Any], where: str) -> tuple[list[Signal], list[Any]]:
    """The signals of a media's AlternativeHashes, and the items naming no kind of ours."""
    listed = item.get(_ALTERNATIVE)
    if listed is None:
        return [], []
    if not isinstance(listed, list):
        raise DataError(f"{where}: {_ALTERNATIVE} is not a list")
    known = set(default_registry().names())
    signals, others = [], []
    for alternative in listed:
        name = alternative.get("HashName") if isinstance(alternative, dict) else None
        value = alternative.get("HashValue") if isinstance(alternative, dict) else None
        if not isinstance(name, str) or not isinstance(value, str):
            raise DataError(f"{where}: {_ALTERNATIVE} items need a HashName and a HashValue")
        kind = _ALTERNATIVE_NAMES.get(name.lower(), name.lower())
        if kind in known:
            signals.append(signal_or_error(kind, value, f"{where} {name}"))
        else:
            others.append(alternative)
    return signals, others


#: The deepest nesting of arrays and objects read (a VICS case is 4 deep; Exifs a few more).
MAX_DEPTH = 32


def _put(container: dict[str, Any] | list[Any], key: str | None, value: Any) -> None:
    if isinstance(container, list):
        container.append(value)
    else:
        container[str(key)] = value


def _build(first: tuple[str, Any], events: Iterator[tuple[str, Any]], depth: int, name: str) -> Any:
    """One JSON value from ijson's flat events, built without recursion and no deeper than
    MAX_DEPTH (`depth`: how deep the value starts)."""
    event, value = first
    if event not in ("start_map", "start_array"):
        return value
    stack: list[dict[str, Any] | list[Any]] = [{} if event == "start_map" else []]
    keys: list[str | None] = [None]
    for event, value in events:
        if event == "map_key":
            keys[-1] = value
        elif event in ("start_map", "start_array"):
            if depth + len(stack) >= MAX_DEPTH:
                raise DataError(f"{name}: JSON nested deeper than {MAX_DEPTH} levels")
            stack.append({} if event == "start_map" else [])
            keys.append(None)
        elif event in ("end_map", "end_array"):
            done = stack.pop()
            keys.pop()
            if not stack:
                return done
            _put(stack[-1], keys[-1], done)
        else:
            _put(stack[-1], keys[-1], value)
    raise DataError(f"{name}: the JSON ends inside a value")


def _value_items(stream: Any, name: str) -> Iterator[Any]:
    """The items of the top-level object's `value` array, one at a time. ijson's flat events
    (`basic_parse`) are used rather than its prefixed ones, whose cost grows with the square of
    the nesting: a few kilobytes of brackets would take gigabytes."""
    events = iter(ijson.basic_parse(stream, use_float=True))
    depth = 0
    top_key: str | None = None
    in_value = False
    for event, value in events:
        if in_value and depth == 2 and event != "end_array":
            yield _build((event, value), events, depth, name)
        elif event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise DataError(f"{name}: JSON nested deeper than {MAX_DEPTH} levels")
            in_value = depth == 2 and event == "start_array" and top_key == "value"
        elif event in ("end_map", "end_array"):
            in_value = False if depth == 2 else in_value
            depth -= 1
        elif event == "map_key" and depth == 1:
            top_key = value


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
    carries: frozenset[str] | None = None  # what has no field goes in AlternativeHashes
    no_place = ""

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
            for record in _value_items(_Chained(head, stream), name):
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
        alternative, others = _alternative_hashes(item, where)
        signals += [s for s in alternative if s not in signals]
        if not signals:
            raise DataError(f"{where}: no MD5, SHA1, SHA256, PhotoDNA or AlternativeHashes")
        ours = item.get("HashwardenCategory")
        category = (
            str(ours)
            if isinstance(ours, str) and ours in CATEGORIES
            else map_category(item.get("Category"), options, where)
        )
        extra = {k: v for k, v in item.items() if k not in _OWN and k != _ALTERNATIVE}
        if others:
            extra[_ALTERNATIVE] = others
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
                if value and kind in kinds:
                    media[field] = value.upper() if kind != "photodna" else value
            alternative = [
                {"HashName": s.kind.upper(), "HashValue": s.value}
                for s in entry.signals
                if s.kind in kinds and s.kind not in _NAMED
            ]
            kept = entry.extra.get(_ALTERNATIVE)
            alternative += kept if isinstance(kept, list) else []
            if alternative:
                media[_ALTERNATIVE] = alternative
            number = to_project_vic(entry.category)
            if number is not None:
                media["Category"] = number
            media["HashwardenCategory"] = entry.category
            if entry.series:
                media["Series"] = entry.series
            media["VictimIdentified"] = entry.victim_identified
            if not any(f in media for f in (*_SIGNALS, _ALTERNATIVE)):
                continue  # nothing of the kinds asked for
            stream.write((b"," if count else b"") + json.dumps(media, ensure_ascii=False).encode())
            count += 1
        stream.write(b"]}\n")
        return count
