"""The receiving side's copy of a hashed block list (the *applied list*) and the look-up over it.

`hashwarden blocklist apply` verifies a signed list or delta (`hashed.apply_update`) and
writes the applied list: one array file (`hashwarden._arrayfile`) holding the list id, the key
it trusts, its version and, sorted by digest, each record's SHA-256 digest, host key, kind,
reason and expiry. The resolver front, the Squid helper and the stop page map it into memory
and search it in place with `bisect`, standard library only, so they start in milliseconds
at a million entries and processes on one machine share one copy in the page cache:

- `digest_keys`: the first 8 bytes of each digest as an unsigned little-endian integer,
  sorted; `digests` (N x 32 bytes) the full digests in the same order, compared on a hit;
- `host_keys`: the distinct host keys, sorted (a URL whose host names have none is a miss
  after one look-up per host name);
- `*_buckets`: for each value of a key's top bits, where its keys start, so that a look-up
  bisects a handful of keys;
- `record_hosts`, `kinds`, `reasons`, `expiries`: per record, its host key and indexes into
  the string table (`strings`: UTF-8 bytes, `string_ends`: where each ends; index 0 is None).

An applied list written as JSON by hashwarden 0.1 is still read (slowly, once) and rewritten
in this form on the spot; `blocklist apply` rewrites it as well.
"""

from __future__ import annotations

import array
import hashlib
import json
import logging
from bisect import bisect_left
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwarden._arrayfile import MAGIC, ArrayFile, write_array_file
from hashwarden.blocking.canonical import (
    HOST_KEY_BYTES,
    MAX_HOST_LABELS,
    CanonicalUrl,
    canonicalize,
    digest,
    host_key,
    host_suffixes,
    path_prefixes,
)
from hashwarden.errors import DataError

__all__ = ["STATE_FORMAT", "STATE_VERSION", "AppliedList", "Hit", "Matcher", "Record"]

log = logging.getLogger(__name__)

STATE_FORMAT = "hashwarden-blocklist-applied"
#: Version 1 was the JSON form of hashwarden 0.1 (read and converted).
STATE_VERSION = 2
_DIGEST_BYTES = 32


def _key(data: bytes) -> int:
    """The look-up key of a digest or host key: its first 8 bytes, little-endian."""
    return int.from_bytes(data[:8], "little")


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    reason: str | None
    expires: str | None
    host: bytes


@dataclass(frozen=True, slots=True)
class Hit:
    """Which candidate expression matched (derived from the query, never stored)."""

    expression: str
    digest: bytes


class _SortedKeys:
    """Sorted unsigned 64-bit keys and, per value of their top `bits`, where those start, so
    a look-up bisects one bucket (about one key at any size), without numpy. The look-ups
    (`_position`, `Matcher.check_url`, `check_name`) are written out where they are used:
    every URL and DNS name pays them, and a call costs as much as the search."""

    def __init__(self, keys: Any, buckets: Any, bits: int) -> None:
        if not 0 < bits <= 24 or len(buckets) != (1 << bits) + 1 or buckets[-1] != len(keys):
            raise DataError("a block list's buckets do not match its keys (damaged file?)")
        self.keys, self.buckets, self.shift = keys, buckets, 64 - bits

    @staticmethod
    def bits_for(count: int) -> int:
        return min(max(count.bit_length(), 1), 24)

    @classmethod
    def build(cls, keys: list[int]) -> tuple[array.array[int], array.array[int], int]:
        """(keys, buckets, bits) for sorted `keys`."""
        bits = cls.bits_for(len(keys))
        shift = 64 - bits
        counts = array.array("I", bytes(4 * ((1 << bits) + 1)))
        for key in keys:
            counts[(key >> shift) + 1] += 1
        total = 0
        for at in range(len(counts)):
            total += counts[at]
            counts[at] = total
        return array.array("Q", keys), counts, bits

    def __len__(self) -> int:
        return len(self.keys)


def _position(table: _SortedKeys, digests: memoryview, value: bytes) -> int:
    """Where a digest is among sorted digests (several may share their first 8 bytes), or -1."""
    keys, buckets = table.keys, table.buckets
    key = int.from_bytes(value[:8], "little")
    top = key >> table.shift
    lo, hi = buckets[top], buckets[top + 1]
    if lo == hi:
        return -1
    at = bisect_left(keys, key, lo, hi - 1)
    while at < hi and keys[at] == key:
        if digests[at * _DIGEST_BYTES : (at + 1) * _DIGEST_BYTES] == value:
            return at
        at += 1
    return -1


class Matcher:
    """Answers "is this URL / name blocked?" from SHA-256 digests and host keys.

    A miss costs one SHA-256 per host name of the URL (its host and parent domains) and a
    look-up of its key; only a host with entries has its host/path expressions hashed and
    looked up. Built over an applied list's mapped tables (`AppliedList.matcher`) or, for
    tests and tools, from digests and host keys in memory."""

    def __init__(self, digests: Iterable[bytes] = (), hosts: Iterable[bytes] = ()) -> None:
        ordered = sorted(set(digests), key=lambda d: (_key(d), d))
        self._digest_keys = _SortedKeys(*_SortedKeys.build([_key(d) for d in ordered]))
        self._digests = memoryview(b"".join(ordered))
        self._hosts = _SortedKeys(*_SortedKeys.build(sorted({_key(h) for h in hosts})))
        self._expiries: Any = None
        self._expired: frozenset[int] = frozenset()
        self._live = len(ordered)

    @classmethod
    def _over(
        cls,
        digest_keys: _SortedKeys,
        digests: memoryview,
        hosts: _SortedKeys,
        expiries: Any,
        expired: frozenset[int],
        live: int,
    ) -> Matcher:
        matcher = cls.__new__(cls)
        matcher._digest_keys, matcher._digests, matcher._hosts = digest_keys, digests, hosts
        matcher._expiries, matcher._expired, matcher._live = expiries, expired, live
        return matcher

    @classmethod
    def from_file(cls, path: Path) -> Matcher:
        return AppliedList.load(path).matcher()

    @classmethod
    def from_expressions(cls, expressions: list[str]) -> Matcher:
        return cls({digest(e) for e in expressions}, {host_key(e) for e in expressions})

    def __len__(self) -> int:
        """Entries that can match (not expired)."""
        return self._live

    def position(self, value: bytes) -> int:
        """Where a digest is in the tables (expired or not), or -1."""
        return _position(self._digest_keys, self._digests, value)

    def _listed(self, value: bytes) -> bool:
        at = _position(self._digest_keys, self._digests, value)
        return at >= 0 and (not self._expired or self._expiries[at] not in self._expired)

    def _host_table(self) -> tuple[Any, Any, int]:
        return self._hosts.keys, self._hosts.buckets, self._hosts.shift

    def check_url(self, url: str | bytes | CanonicalUrl) -> Hit | None:
        """The first matching expression of `url` (exact host first), or None."""
        # The host key's bucket, then a bisect in it (see `_SortedKeys`).
        keys, buckets, shift = self._host_table()
        sha256, from_bytes = hashlib.sha256, int.from_bytes
        canonical = url if isinstance(url, CanonicalUrl) else canonicalize(url)
        paths: list[str] | None = None
        for host in host_suffixes(canonical):
            key = from_bytes(sha256(host.encode()).digest()[:HOST_KEY_BYTES], "little")
            lo, hi = buckets[key >> shift], buckets[(key >> shift) + 1]
            if lo == hi or keys[bisect_left(keys, key, lo, hi - 1)] != key:
                continue
            if paths is None:
                paths = path_prefixes(canonical)
            for path in paths:
                expression = host + path
                d = sha256(expression.encode()).digest()
                if self._listed(d):
                    return Hit(expression, d)
        return None

    def check_name(self, name: str) -> Hit | None:
        """Whether a DNS name falls under a domain entry (the name or one of its parents)."""
        keys, buckets, shift = self._host_table()
        sha256, from_bytes = hashlib.sha256, int.from_bytes
        labels = name.lower().rstrip(".").split(".")
        for n in range(len(labels), 1, -1):
            if n > MAX_HOST_LABELS and n != len(labels):
                continue
            host = ".".join(labels[-n:])
            key = from_bytes(sha256(host.encode()).digest()[:HOST_KEY_BYTES], "little")
            lo, hi = buckets[key >> shift], buckets[(key >> shift) + 1]
            if lo == hi or keys[bisect_left(keys, key, lo, hi - 1)] != key:
                continue
            expression = host + "/"
            d = sha256(expression.encode()).digest()
            if self._listed(d):
                return Hit(expression, d)
        return None


class _Strings:
    """The string table: index 0 is None, others decoded once when first asked for."""

    def __init__(self, blob: memoryview, ends: Any) -> None:
        self._blob, self._ends = blob, ends
        self._cache: dict[int, str | None] = {0: None}

    def __getitem__(self, index: int) -> str | None:
        if index not in self._cache:
            if not 0 < index < len(self._ends):
                raise DataError(f"an applied block list names string {index}, which it lacks")
            text = bytes(self._blob[self._ends[index - 1] : self._ends[index]]).decode()
            self._cache[index] = text
        return self._cache[index]

    def all(self) -> list[str | None]:
        """Every string, index 0 (None) first."""
        return [self[at] for at in range(len(self._ends))]


class _MappedRecords(Mapping[bytes, Record]):
    """An applied list's records, read from its mapped tables when asked for."""

    def __init__(self, file: ArrayFile) -> None:
        meta = file.meta
        try:
            #: Records per expiry date (its string's index), so expired ones are counted
            #: without reading every record.
            self.expiry_counts = {int(i): int(n) for i, n in meta["expiry_counts"].items()}
            self.digest_keys = _SortedKeys(
                file.items("digest_keys", "<u8"),
                file.items("digest_buckets", "<u4"),
                int(meta["digest_bits"]),
            )
            self.hosts = _SortedKeys(
                file.items("host_keys", "<u8"),
                file.items("host_buckets", "<u4"),
                int(meta["host_bits"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{file.path}: the look-up tables are described badly") from exc
        _, shape, self.digests = file.raw("digests")
        count = len(self.digest_keys)
        self.record_hosts = file.items("record_hosts", "<u8")
        self.kinds = file.items("kinds", "<u4")
        self.reasons = file.items("reasons", "<u4")
        self.expiries = file.items("expiries", "<u4")
        columns = (self.record_hosts, self.kinds, self.reasons, self.expiries)
        if shape != (count, _DIGEST_BYTES) or any(len(c) != count for c in columns):
            raise DataError(f"{file.path}: the record tables do not agree in size")
        self.strings = _Strings(file.raw("strings")[2], file.items("string_ends", "<u8"))
        self.path = file.path

    def matcher(self, today: str) -> Matcher:
        """A matcher over these tables; entries expiring on or before `today` never match."""
        counts = self.expiry_counts
        expired = frozenset(i for i in counts if str(self.strings[i]) <= today)
        live = len(self) - sum(n for i, n in counts.items() if i in expired)
        return Matcher._over(
            self.digest_keys, self.digests, self.hosts, self.expiries, expired, live
        )

    def record_at(self, at: int) -> Record:
        strings = self.strings
        return Record(
            strings[self.kinds[at]] or "",
            strings[self.reasons[at]],
            strings[self.expiries[at]],
            self.record_hosts[at].to_bytes(8, "little"),
        )

    def digest_at(self, at: int) -> bytes:
        return bytes(self.digests[at * _DIGEST_BYTES : (at + 1) * _DIGEST_BYTES])

    def __getitem__(self, key: bytes) -> Record:
        at = _position(self.digest_keys, self.digests, key)
        if at < 0:
            raise KeyError(key)
        return self.record_at(at)

    def __iter__(self) -> Iterator[bytes]:
        return (self.digest_at(at) for at in range(len(self)))

    def __len__(self) -> int:
        return len(self.digest_keys)

    def items(self) -> ItemsView[bytes, Record]:
        return _Items(self)

    def values(self) -> ValuesView[Record]:
        return _Values(self)


class _Items(ItemsView[bytes, Record]):
    """Items in stored order, without a search per key."""

    _mapping: _MappedRecords

    def __iter__(self) -> Iterator[tuple[bytes, Record]]:
        records = self._mapping
        return ((records.digest_at(at), records.record_at(at)) for at in range(len(records)))


class _Values(ValuesView[Record]):
    _mapping: _MappedRecords

    def __iter__(self) -> Iterator[Record]:
        records = self._mapping
        return (records.record_at(at) for at in range(len(records)))


@dataclass
class AppliedList:
    """The receiving side's copy: digests and their records, at one version of one list."""

    list_id: str | None
    key: str
    serial: int
    records: Mapping[bytes, Record]

    @classmethod
    def load(cls, path: Path) -> AppliedList:
        """The applied list at `path`, mapped into memory. One written as JSON by an older
        hashwarden is read and rewritten in the binary form (left as it is, with a warning,
        when the folder cannot be written)."""
        with path.open("rb") as f:  # FileNotFoundError passes: the caller says what is missing
            start = f.read(len(MAGIC))
        if start != MAGIC:
            applied = cls._load_json(path)
            try:
                applied.save(path)
            except OSError as exc:
                log.warning("%s stays in the slow JSON form: cannot rewrite it (%s)", path, exc)
            return applied
        file = ArrayFile(path, STATE_FORMAT, STATE_VERSION)
        meta = file.meta
        try:
            list_id, key, serial = meta["list"], str(meta["key"]), int(meta["serial"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path} is not an applied hashwarden block list ({exc})") from exc
        return cls(list_id, key, serial, _MappedRecords(file))

    @classmethod
    def _load_json(cls, path: Path) -> AppliedList:
        """The JSON form of hashwarden 0.1."""
        try:
            doc = json.loads(path.read_bytes())
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not an applied block list")
            records = {
                bytes.fromhex(h): Record(kind, reason, expires, bytes.fromhex(host))
                for h, kind, reason, expires, host in doc["records"]
            }
            return cls(doc["list"], doc["key"], int(doc["serial"]), records)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path} is not an applied hashwarden block list ({exc})") from exc

    def save(
        self,
        path: Path,
        *,
        remove: Iterable[bytes] = (),
        add: Mapping[bytes, Record] | None = None,
    ) -> None:
        """Write the list, less the digests `remove` and with the records `add`, atomically
        (a resolver may be reading the old file meanwhile). A mapped list is changed column
        by column, without reading its unchanged records one by one."""
        from hashwarden.blocking._table import Table  # numpy: the writer only

        base = self.records
        table = (
            Table.of_mapped(base) if isinstance(base, _MappedRecords) else Table.of_records(base)
        )
        table = table.without([*remove, *(add or {})])
        if add:
            table = table.plus(Table.of_records(add))
        meta, columns = table.columns()
        meta |= {"list": self.list_id, "key": self.key, "serial": self.serial}
        write_array_file(path, STATE_FORMAT, STATE_VERSION, meta, columns)

    def matcher(self) -> Matcher:
        """A matcher over the records that have not expired."""
        today = datetime.now(UTC).date().isoformat()
        if isinstance(self.records, _MappedRecords):
            return self.records.matcher(today)
        live = [
            (d, r.host) for d, r in self.records.items() if r.expires is None or r.expires > today
        ]
        return Matcher({d for d, _ in live}, {h for _, h in live})
