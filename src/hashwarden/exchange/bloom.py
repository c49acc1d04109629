"""Bloom filters for field triage, in the DCSO format that CIRCL publishes hashlookup's sets in
and the `flor` library (Python) and DCSO's `bloom` tool (Go) read.

A laptop at a search checks a seized device's files against the filter without carrying the
list in clear: a filter answers "certainly not in the list" or "possibly in it" (a candidate,
then confirmed against the bank). What may leak is membership of a guessed hash; the keyed
variant closes that too: each hash is replaced by HMAC-SHA256(key, hash) before it enters the
filter, so without the key the filter tells nothing.

The file (all integers little-endian, as the Go library writes them):

    u64 version (1) | u64 n (capacity) | f64 p (error rate) | u64 k (hash functions)
    | u64 m (bits) | u64 N (elements) | ceil(m / 64) u64 words of bits | data (free bytes)

An element is the ASCII of its hash in upper-case hex (CIRCL's convention; plaso capitalises
too), or of the upper-case hex HMAC in a keyed filter. Its bit positions are FNV-1 (64-bit) of
those bytes, taken modulo the prime `_MOD` and then stepped k times by `_STEP` (the product
wrapping at 64 bits, as in Go), each modulo m. hashwarden puts a JSON object in the data
section saying what the filter holds (kinds, whether keyed and by which key id); other tools
ignore it.

Sizing, as DCSO's library does it: m = ceil(-n ln p / (ln 2)^2) bits, k = ceil(ln 2 * m / n),
where n is the number of distinct hashes written. The chance that a hash not in the list is
reported as a candidate is then about (1 - e^(-kn/m))^k, at most p (measured: docs/exchange.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from hashwarden.bank.base import Entry
from hashwarden.errors import DataError, LimitExceededError, UsageError

__all__ = [
    "BLOOM_KINDS",
    "DEFAULT_ERROR_RATE",
    "MAX_BLOOM_BYTES",
    "BloomFilter",
    "BloomFormat",
    "bloom_parameters",
    "key_id",
    "write_bloom",
]

#: The kinds a filter holds: exact digests that forensic tools compute for every file.
BLOOM_KINDS = frozenset({"md5", "sha1", "sha256"})
DEFAULT_ERROR_RATE = 0.001
#: The error rates accepted: below 1e-12 a filter grows past any use; above 0.5 it says nothing.
MIN_ERROR_RATE, MAX_ERROR_RATE = 1e-12, 0.5
#: The largest filter read or written (4 GiB: 2 billion hashes at p = 0.001).
MAX_BLOOM_BYTES = 4 << 30
#: The most hash functions a filter may ask for (p = 1e-12 needs 40).
MAX_K = 64
#: The longest data section read for hashwarden's description.
MAX_DATA_BYTES = 64 * 1024
MARKER = "hashwarden-bloom"

_HEADER = struct.Struct("<QQdQQQ")
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MOD = 18446744073709551557  # the largest prime below 2**64
_STEP = 18446744073709550147
_MASK = (1 << 64) - 1
_BATCH = 1 << 18  # hashes fingerprinted at once when writing


def bloom_parameters(n: int, p: float) -> tuple[int, int]:
    """(m bits, k hash functions) for n elements at error rate p, as DCSO's library sizes it."""
    m = math.ceil(abs(n * math.log(p) / math.log(2.0) ** 2))
    return m, math.ceil(math.log(2) * m / n)


def key_id(key: bytes) -> str:
    """A short public name of an HMAC key, so a scan can tell a wrong key from no match."""
    return hashlib.sha256(b"hashwarden bloom key\x00" + key).hexdigest()[:16]


def _element(value: str, key: bytes | None) -> bytes:
    text = value.strip().upper().encode("ascii")
    if key is None:
        return text
    return hmac.new(key, text, hashlib.sha256).hexdigest().upper().encode("ascii")


def _fnv1(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h = (h * _FNV_PRIME) & _MASK
        h ^= byte
    return h


def _fnv1_rows(rows: np.ndarray) -> np.ndarray:
    """FNV-1 of each row of a (count, length) uint8 array, vectorised over the rows."""
    h = np.full(rows.shape[0], _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    for column in range(rows.shape[1]):
        h *= prime  # wraps at 64 bits, as FNV does
        h ^= rows[:, column].astype(np.uint64)
    return h


def _positions(fnv: np.ndarray, k: int, m: int) -> Iterator[np.ndarray]:
    """The k bit positions of each hash, one array per function."""
    mod, step, bits = np.uint64(_MOD), np.uint64(_STEP), np.uint64(m)
    hn = fnv % mod
    for _ in range(k):
        hn = (hn * step) % mod
        yield hn % bits


class _Collector:
    """Distinct FNV-1 values of the elements, 8 bytes each, batched by element length."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key
        self._pending: dict[int, list[bytes]] = {}
        self._done: list[np.ndarray] = []

    def add(self, value: str) -> None:
        element = _element(value, self._key)
        batch = self._pending.setdefault(len(element), [])
        batch.append(element)
        if len(batch) >= _BATCH:
            self._flush(len(element))

    def _flush(self, length: int) -> None:
        batch = self._pending.pop(length, [])
        if batch:
            rows = np.frombuffer(b"".join(batch), dtype=np.uint8).reshape(len(batch), length)
            self._done.append(np.unique(_fnv1_rows(rows)))

    def distinct(self) -> np.ndarray:
        for length in list(self._pending):
            self._flush(length)
        if not self._done:
            return np.empty(0, dtype=np.uint64)
        return np.unique(np.concatenate(self._done))


def _check_error_rate(error_rate: float) -> None:
    if not MIN_ERROR_RATE <= error_rate <= MAX_ERROR_RATE:
        raise UsageError(
            f"--error-rate {error_rate:g} must be between {MIN_ERROR_RATE:g} and {MAX_ERROR_RATE:g}"
        )


def write_bloom(
    values: Iterable[str],
    stream: BinaryIO,
    *,
    error_rate: float = DEFAULT_ERROR_RATE,
    key: bytes | None = None,
    description: dict[str, Any] | None = None,
) -> int:
    """Write a DCSO Bloom filter of the hex hashes `values` (any case); returns how many
    distinct hashes it holds. Memory: 8 bytes a hash while collecting, then the filter."""
    _check_error_rate(error_rate)
    collector = _Collector(key)
    for value in values:
        collector.add(value)
    fnv = collector.distinct()
    n = max(len(fnv), 1)
    m, k = bloom_parameters(n, error_rate)
    words = math.ceil(m / 64)
    if _HEADER.size + words * 8 > MAX_BLOOM_BYTES:
        raise LimitExceededError(
            f"a filter of {len(fnv)} hashes at error rate {error_rate:g} would take"
            f" {words * 8 / 2**30:.1f} GiB (limit {MAX_BLOOM_BYTES / 2**30:.0f} GiB): raise"
            " --error-rate or export fewer kinds"
        )
    bits = np.zeros(words * 8, dtype=np.uint8)
    one = np.uint64(1)
    for start in range(0, len(fnv), _BATCH):
        for position in _positions(fnv[start : start + _BATCH], k, m):
            np.bitwise_or.at(bits, position >> np.uint64(3), (one << (position & np.uint64(7))))
    about = {"format": MARKER, "version": 1, **(description or {})}
    about["keyed"] = {"algorithm": "hmac-sha256", "key_id": key_id(key)} if key else None
    stream.write(_HEADER.pack(1, n, error_rate, k, m, len(fnv)))
    stream.write(bits.tobytes())
    stream.write(json.dumps(about, sort_keys=True).encode())
    return len(fnv)


@dataclass(frozen=True)
class _Header:
    n: int
    p: float
    k: int
    m: int
    count: int


class BloomFilter:
    """A DCSO Bloom filter opened for checking (memory-mapped: a filter of gigabytes costs
    little memory). Malformed files raise DataError naming what is wrong."""

    def __init__(self, path: Path, *, key: bytes | None = None) -> None:
        self.path = path
        try:
            size = path.stat().st_size
            with path.open("rb") as stream:
                head = stream.read(_HEADER.size)
                header = self._header(head, size)
                words = math.ceil(header.m / 64)
                stream.seek(_HEADER.size + words * 8)
                data = stream.read(MAX_DATA_BYTES + 1)
        except OSError as exc:
            raise DataError(f"{path}: cannot read the Bloom filter ({exc.strerror})") from exc
        self.header = header
        self.about = self._about(data)
        self._bits = np.memmap(path, dtype=np.uint8, mode="r", offset=_HEADER.size)[: words * 8]
        keyed = self.about.get("keyed") if self.about else None
        self.keyed = isinstance(keyed, dict)
        if self.keyed and key is None:
            raise UsageError(f"{path} is a keyed filter: give its key (--bloom-key FILE)")
        if not self.keyed and key is not None:
            raise UsageError(f"{path} is not keyed: check it without --bloom-key")
        if isinstance(keyed, dict) and key is not None and keyed.get("key_id") != key_id(key):
            raise UsageError(f"{path}: the key given is not the key this filter was made with")
        self._key = key

    def _header(self, head: bytes, size: int) -> _Header:
        where = str(self.path)
        if len(head) < _HEADER.size:
            raise DataError(f"{where}: not a Bloom filter (shorter than its 48-byte header)")
        version, n, p, k, m, count = _HEADER.unpack(head)
        if version & 0xFF != 1:
            raise DataError(f"{where}: not a DCSO Bloom filter (version flag {version & 0xFF})")
        if not (0.0 < p < 1.0) or n == 0 or m == 0 or not 1 <= k <= MAX_K:
            raise DataError(
                f"{where}: malformed Bloom filter header (n={n}, p={p:g}, k={k}, m={m})"
            )
        needed = _HEADER.size + math.ceil(m / 64) * 8
        if needed > MAX_BLOOM_BYTES:
            raise LimitExceededError(
                f"{where}: a filter of {m} bits is over the {MAX_BLOOM_BYTES >> 30} GiB limit"
            )
        if size < needed:
            raise DataError(f"{where}: truncated Bloom filter ({size} bytes of {needed})")
        return _Header(n, p, k, m, count)

    def _about(self, data: bytes) -> dict[str, Any] | None:
        """hashwarden's description from the data section; None for other tools' filters."""
        if not data.startswith(b"{") or len(data) > MAX_DATA_BYTES:
            return None
        try:
            about = json.loads(data)
        except ValueError:
            return None
        if not isinstance(about, dict) or about.get("format") != MARKER:
            return None
        return about

    @property
    def kinds(self) -> list[str]:
        """The kinds the filter says it holds (hashwarden's filters), else md5 and sha1."""
        listed = self.about.get("kinds") if self.about else None
        if isinstance(listed, list) and all(isinstance(k, str) for k in listed):
            return [k for k in listed if k in BLOOM_KINDS]
        return ["md5", "sha1"]

    def __contains__(self, value: str) -> bool:
        """Whether the hex hash `value` (any case) may be in the list."""
        try:
            element = _element(value, self._key)
        except UnicodeEncodeError:
            return False
        k, m = self.header.k, self.header.m
        hn = _fnv1(element) % _MOD
        for _ in range(k):
            hn = ((hn * _STEP) & _MASK) % _MOD
            position = hn % m
            if not self._bits[position >> 3] & (1 << (position & 7)):
                return False
        return True

    def expected_error_rate(self) -> float:
        """(1 - e^(-kN/m))^k: the chance a hash not in the list is reported, as filled."""
        k, m, count = self.header.k, self.header.m, self.header.count
        return float((1.0 - math.exp(-k * count / m)) ** k)


class BloomFormat:
    """`bank export --format bloom`: the md5, sha1 and sha256 values of the entries in one
    filter (CIRCL's filters likewise mix kinds); other kinds have no place in it."""

    name = "bloom"
    writable = True
    carries: frozenset[str] | None = BLOOM_KINDS
    no_place = "a Bloom filter holds exact digests (md5, sha1, sha256) only"

    def __init__(self, error_rate: float = DEFAULT_ERROR_RATE, key: bytes | None = None) -> None:
        _check_error_rate(error_rate)
        self.error_rate, self.key = error_rate, key

    def read(self, stream: BinaryIO, options: object, name: str) -> Iterator[Any]:
        raise UsageError("a Bloom filter cannot be imported: its hashes cannot be read back")

    def write(self, entries: Iterable[Entry], stream: BinaryIO, kinds: list[str]) -> int:
        wanted = [k for k in kinds if k in BLOOM_KINDS]
        values = (s.value for e in entries for s in e.signals if s.kind in wanted)
        description = {"kinds": wanted, "case": "upper"}
        return write_bloom(
            values, stream, error_rate=self.error_rate, key=self.key, description=description
        )
