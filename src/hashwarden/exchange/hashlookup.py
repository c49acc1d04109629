"""Answers in CIRCL hashlookup's shapes, from a bank's entries and known-good sets, so that
forensic tools written for hashlookup (its `pyhashlookup` client, plaso, Autopsy modules) can
ask hashwarden instead. The service serves them under `/hashlookup/`; this module holds no
HTTP, only (status, body) pairs:

    lookup("md5", value)    GET  /lookup/md5/<md5>     also sha1 and sha256
    bulk("md5", payload)    POST /bulk/md5  {"hashes": [...]}   also sha1
    info()                  GET  /info

A hash in a known-good set answers as a known file does at CIRCL: its hashes in upper case
under hashlookup's keys (`MD5`, `SHA-1`, `SHA-256`), `source` the set's name,
`hashlookup:trust` high. A banked hash answers with hashwarden's own fields (`hashwarden:entry`,
`hashwarden:category`, ..., `hashwarden:exchanges`: the programmes' record ids and tags) and
`hashlookup:trust` 0, and `KnownMalicious` naming the bank, the
field hashlookup uses for lists of known-bad files. Unknown: 404 `Non existing MD5`; malformed:
400 with hashlookup's messages.
"""

from __future__ import annotations

import re
from typing import Any

from hashwarden.bank import Entry
from hashwarden.bank.protocols import BankStore

__all__ = ["BULK_KINDS", "HASHLOOKUP_KEYS", "MAX_BULK", "HashLookup"]

#: Our kinds → hashlookup's names for them (its record keys and messages).
HASHLOOKUP_KEYS = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
BULK_KINDS = ("md5", "sha1")
#: The most hashes one bulk request may ask for (hashlookup sets none; a bound keeps one
#: request from holding the bank).
MAX_BULK = 10_000
#: `hashlookup:trust` of a known-good file (CIRCL gives 50 and up to files seen in known sets).
KNOWN_GOOD_TRUST = 100
_HEX = re.compile(r"[0-9a-fA-F]+")

Answer = tuple[int, Any]


class HashLookup:
    """hashlookup's answers over one bank (read-only use)."""

    def __init__(self, bank: BankStore, *, name: str = "hashwarden") -> None:
        self.bank = bank
        self.name = name

    def lookup(self, kind: str, value: str, *, full: bool = True) -> Answer:
        """GET /lookup/<kind>/<value>. Without `full` (a caller that may match but not read
        the bank) a banked record shows only the hash asked and its category."""
        label = HASHLOOKUP_KEYS.get(kind)
        if label is None:
            return 404, {"message": f"hashlookup has no lookup by {kind}"}
        if len(value) != _LENGTHS[kind]:
            return 400, {"message": f"Expecting a {label} hex value"}
        if not _HEX.fullmatch(value):
            return 400, {"message": f"{label} is not in hex format"}
        found = self._records(kind, [value.lower()], full)
        record = found.get(value.lower())
        if record is None:
            return 404, {"message": f"Non existing {label}", "query": value}
        return 200, record

    def bulk(self, kind: str, payload: object, *, full: bool = True) -> Answer:
        """POST /bulk/<kind> with {"hashes": [...]}: the records of the hashes known, in the
        order asked, unknown ones left out (as hashlookup does)."""
        if kind not in BULK_KINDS:
            return 404, {"message": f"hashlookup has no bulk search by {kind}"}
        hashes = payload.get("hashes") if isinstance(payload, dict) else None
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            return 400, {
                "message": "JSON format incorrect. An array of hashes in the key 'hashes' is"
                " expected."
            }
        if len(hashes) > MAX_BULK:
            return 413, {"message": f"at most {MAX_BULK} hashes in one request"}
        wanted = [h.lower() for h in hashes if len(h) == _LENGTHS[kind] and _HEX.fullmatch(h)]
        found = self._records(kind, wanted, full)
        return 200, [found[h] for h in wanted if h in found]

    def info(self) -> dict[str, Any]:
        """GET /info: what this server answers from."""
        sets = self.bank.known_good.sets()
        return {
            "hashlookup-version": "1.0",
            "hashwarden-bank": self.name,
            "hashwarden-entries": str(self.bank.entries.count()),
            **{f"known-good-{name}-items": str(count) for name, count in sorted(sets.items())},
        }

    def _records(
        self, kind: str, values: list[str], full: bool = True
    ) -> dict[str, dict[str, Any]]:
        """hashlookup records of the values known (lower-case hex), banked first."""
        if not values:
            return {}
        records: dict[str, dict[str, Any]] = {}
        for value, set_name in self.bank.known_good.lookup(kind, values).items():
            records[value] = {
                HASHLOOKUP_KEYS[kind]: value.upper(),
                "source": set_name,
                "db": f"hashwarden:known-good:{set_name}",
                "hashlookup:trust": KNOWN_GOOD_TRUST,
            }
        banked = self.bank.entries.lookup(kind, values)
        entries = self.bank.entries.by_id(set(banked.values()))
        for value, entry_id in banked.items():
            record = self._banked(entries[entry_id], kind if not full else None)
            if value in records:
                record["hashwarden:known_good"] = records[value]["source"]
            records[value] = record
        return records

    def _banked(self, entry: Entry, only: str | None) -> dict[str, Any]:
        """The record of a banked entry; with `only`, just that kind's hash and the category."""
        record: dict[str, Any] = {
            label: (entry.signal(kind) or "").upper()
            for kind, label in HASHLOOKUP_KEYS.items()
            if entry.signal(kind) and only in (None, kind)
        }
        record.update(
            {
                "KnownMalicious": self.name,
                "hashlookup:trust": 0,
                "hashwarden:entry": entry.id,
                "hashwarden:category": entry.category,
            }
        )
        if only is not None:
            return record
        if entry.series:
            record["hashwarden:series"] = entry.series
        if entry.source:
            record["hashwarden:source"] = entry.source
        exchanges = {
            key.removeprefix("exchange:"): value
            for key, value in entry.extra.items()
            if key.startswith("exchange:") and isinstance(value, dict)
        }
        if exchanges:  # the programmes' record ids and tags (`hashwarden exchange fetch`)
            record["hashwarden:exchanges"] = exchanges
        return record
