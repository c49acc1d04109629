"""Exact-kind look-up in memory: md5, sha1, sha256, the P2P kinds and opaque fingerprints.

Per kind, the banked values are packed into fixed-width byte rows (hex digests as their raw
bytes), sorted by their first 8 bytes as a uint64 key, with a parallel int64 label (the entry
id, or a known-good set number). A batch of look-ups is two `searchsorted` calls over the keys
plus one comparison of the full rows: millions a second, no SQL, no Python object per value.

Values of kinds that are not hex digests (opaque fingerprints, TTH) are keyed by their SHA-256:
the table then only says "maybe", and `verified` is False so the caller confirms a hit with
the bank. Hex-kind values that are not lower-case hex of the kind's length (which the bank's
normalisation never stores) are kept aside in a small dict and compared as text, so every
answer is the one a SQL `value IN (...)` would give.

Like `PdqIndex`, additions go to a small sorted delta merged past 5%, removals hide rows at
once, and the tables are saved in one array file (`hashwarden._arrayfile`) and loaded
memory-mapped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hashwarden._arrayfile import ArrayFile, Column, write_array_file
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import DataError
from hashwarden.index._arrays import column, mapped
from hashwarden.signals import default_registry
from hashwarden.signals.base import HexDigestKind

__all__ = ["ExactIndex", "ExactTable", "KnownGoodIndex", "exact_kinds"]

FORMAT = "hashwarden-exact-index"
VERSION = 2
_KEY_BYTES = 8


_HEX_DIGITS = frozenset("0123456789abcdef")
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def _hex_rows(values: Sequence[str], digits: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, ok) of values that all have `digits` characters, decoded in one vectorised
    pass (ok is False for a value that is not lower-case hex); None when the lengths differ."""
    text = "\n".join(values)
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    count = len(values)
    # No value holds a newline, and the newlines sit every digits + 1: each value has `digits`.
    if len(raw) != count * (digits + 1) - 1 or raw.count(b"\n") != count - 1:
        return None
    table = np.frombuffer(raw + b"\n", dtype=np.uint8).reshape(count, digits + 1)
    if not (table[:, digits] == ord("\n")).all():
        return None
    if not raw.translate(None, b"0123456789abcdef\n"):  # all lower-case hex (fromhex skips \n)
        rows = np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(count, digits // 2)
        return rows, np.ones(count, dtype=bool)
    nibbles = _NIBBLE[table[:, :digits]]
    ok = (nibbles != 255).all(axis=1)
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2], ok


def _keys(rows: np.ndarray) -> np.ndarray:
    """The uint64 sort key of each row: its first 8 bytes, big-endian."""
    return np.ascontiguousarray(rows[:, :_KEY_BYTES]).view(">u8").ravel().astype(np.uint64)


class _Sorted:
    """Rows sorted by key, with labels and a live mask."""

    def __init__(self, keys: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
        self.keys, self.rows, self.labels = keys, rows, labels
        self.live = np.ones(len(keys), dtype=bool)

    @classmethod
    def build(cls, rows: np.ndarray, labels: np.ndarray) -> _Sorted:
        keys = _keys(rows)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], rows[order], labels[order])

    def find(self, keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query position, label) of every live row equal to a query row."""
        # Needles in key order walk the table in order: several times faster than random.
        order = np.argsort(keys, kind="stable")
        lo = np.searchsorted(self.keys, keys[order], side="left")
        hi = np.searchsorted(self.keys, keys[order], side="right")
        counts = hi - lo
        queries = np.repeat(order, counts)
        positions = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(
            int(counts.sum())
        )
        whole = f"V{rows.shape[1]}"  # one comparison per row, not per byte
        same = self.rows.view(whole).ravel()[positions] == rows.view(whole).ravel()[queries]
        same &= self.live[positions]
        return queries[same], self.labels[positions[same]]

    def find_one(self, key: np.uint64, row: bytes) -> list[int]:
        """Labels of the live rows equal to one row: scalar calls only, a few microseconds."""
        lo = int(self.keys.searchsorted(key, side="left"))
        hi = int(self.keys.searchsorted(key, side="right"))
        return [
            int(self.labels[at])
            for at in range(lo, hi)
            if self.live[at] and self.rows[at].tobytes() == row
        ]


class ExactTable:
    """One kind's values. `digits` is the hex length for hex kinds, None for other kinds."""

    def __init__(self, digits: int | None) -> None:
        self.digits = digits
        self.width = max(_KEY_BYTES, digits // 2) if digits else 32
        self._main = _Sorted.build(self._empty(), np.zeros(0, dtype=np.int64))
        self._delta = _Sorted.build(self._empty(), np.zeros(0, dtype=np.int64))
        #: value -> labels of hex-kind values that are not canonical hex (normally empty).
        self._odd: dict[str, list[int]] = {}

    @property
    def verified(self) -> bool:
        """True when a hit is certain; False when it is a SHA-256 match to confirm."""
        return self.digits is not None

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.width), dtype=np.uint8)

    def __len__(self) -> int:
        return int(self._main.live.sum() + self._delta.live.sum()) + sum(
            len(v) for v in self._odd.values()
        )

    def encode(self, values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, ok): each value as a byte row; ok is False where it cannot be one."""
        if self.digits is None:
            raw = b"".join(hashlib.sha256(v.encode()).digest() for v in values)
            rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32)
            return rows, np.ones(len(values), dtype=bool)
        digits = self.digits
        fast = _hex_rows(values, digits)
        if fast is not None:
            rows, ok = fast
        else:  # some value is not of the kind's length: one at a time
            parts, flags = [], []
            for value in values:
                good = len(value) == digits and set(value) <= _HEX_DIGITS
                parts.append(bytes.fromhex(value) if good else bytes(digits // 2))
                flags.append(good)
            raw, ok = b"".join(parts), np.array(flags, dtype=bool)
            rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, digits // 2)
        if rows.shape[1] < self.width:
            rows = np.pad(rows, ((0, 0), (0, self.width - rows.shape[1])))
        return rows, ok

    def add(self, values: Sequence[str], labels: Sequence[int]) -> None:
        """Make values findable at once; merged into the main table past 5% of its size."""
        if not values:
            return
        rows, ok = self.encode(values)
        label_array = np.asarray(labels, dtype=np.int64)
        for at in np.flatnonzero(~ok).tolist():
            self._odd.setdefault(values[at], []).append(int(labels[at]))
        live = self._delta.live
        self._delta = _Sorted.build(
            np.concatenate([self._delta.rows[live], rows[ok]]),
            np.concatenate([self._delta.labels[live], label_array[ok]]),
        )
        if len(self._delta.keys) > max(10_000, len(self._main.keys) // 20):
            self.compact()

    def remove_labels(self, labels: Iterable[int]) -> None:
        """Never find values under these labels again."""
        gone = np.asarray(list(labels), dtype=np.int64)
        if not len(gone):
            return
        for part in (self._main, self._delta):
            if len(part.labels):
                part.live = part.live & ~np.isin(part.labels, gone)
        gone_set = set(gone.tolist())
        for value in list(self._odd):
            kept = [label for label in self._odd[value] if label not in gone_set]
            if kept:
                self._odd[value] = kept
            else:
                del self._odd[value]

    def compact(self) -> None:
        """Rebuild with the delta merged and removed rows dropped."""
        main, delta = self._main, self._delta
        self._main = _Sorted.build(
            np.concatenate([main.rows[main.live], delta.rows[delta.live]]),
            np.concatenate([main.labels[main.live], delta.labels[delta.live]]),
        )
        self._delta = _Sorted.build(self._empty(), np.zeros(0, dtype=np.int64))

    def find(self, values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(position in `values`, label) of every banked value equal to one of `values`."""
        if not values:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        rows, ok = self.encode(values)
        keys = _keys(rows)
        found = [part.find(keys, rows) for part in (self._main, self._delta) if len(part.keys)]
        positions = [p[ok[p]] for p, _ in found]
        labels = [lab[ok[p]] for p, lab in found]
        if self._odd:
            odd = [(i, label) for i, v in enumerate(values) for label in self._odd.get(v, ())]
            positions.append(np.array([i for i, _ in odd], dtype=np.int64))
            labels.append(np.array([label for _, label in odd], dtype=np.int64))
        if not positions:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(positions), np.concatenate(labels)

    def find_one(self, value: str) -> list[int]:
        """Labels of one value: `find` for a single value without numpy's per-array costs
        (the matcher's per-file case)."""
        if self.digits is None:
            row = hashlib.sha256(value.encode()).digest()
        else:
            if len(value) != self.digits or not set(value) <= _HEX_DIGITS:
                return list(self._odd.get(value, ()))
            row = bytes.fromhex(value).ljust(self.width, b"\0")
        key = np.uint64(int.from_bytes(row[:_KEY_BYTES], "big"))
        labels = self._main.find_one(key, row)
        if len(self._delta.keys):
            labels += self._delta.find_one(key, row)
        return labels

    # -- persistence -------------------------------------------------------------------------
    def columns(self, prefix: str) -> dict[str, Column]:
        """The table (delta merged) as columns of an array file, names under `prefix`."""
        self.compact()
        return {f"{prefix}{n}": column(getattr(self._main, n)) for n in ("keys", "rows", "labels")}

    @classmethod
    def from_file(cls, file: ArrayFile, prefix: str, digits: int | None) -> ExactTable:
        table = cls(digits)
        keys = mapped(file, f"{prefix}keys", "<u8", 1)
        rows = mapped(file, f"{prefix}rows", "|u1", 2)
        labels = mapped(file, f"{prefix}labels", "<i8", 1)
        if rows.shape != (len(keys), table.width) or len(labels) != len(keys):
            raise DataError(f"{file.path}: the {prefix} arrays do not agree in size")
        table._main = _Sorted(keys, rows, labels)
        return table


class ExactIndex:
    """Exact look-up tables for several kinds; `digits` maps hex kinds to their length."""

    def __init__(self, digits: Mapping[str, int | None]) -> None:
        self.tables = {kind: ExactTable(d) for kind, d in digits.items()}

    def add(self, kind: str, values: Sequence[str], labels: Sequence[int]) -> None:
        self.tables[kind].add(values, labels)

    def remove_labels(self, labels: Iterable[int]) -> None:
        gone = list(labels)
        for table in self.tables.values():
            table.remove_labels(gone)

    def find(self, kind: str, values: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """`ExactTable.find` for a kind, or None when the kind has no table."""
        table = self.tables.get(kind)
        return None if table is None else table.find(values)

    def columns(self, prefix: str = "") -> tuple[dict[str, object], dict[str, Column]]:
        """(meta, columns): the tables for an array file, names under `prefix`."""
        columns: dict[str, Column] = {}
        for kind, table in self.tables.items():
            columns |= table.columns(f"{prefix}{kind}/")
        meta = {
            "digits": {k: t.digits for k, t in self.tables.items()},
            "odd": {k: t._odd for k, t in self.tables.items() if t._odd},
        }
        return meta, columns

    @classmethod
    def from_file(cls, file: ArrayFile, meta: Mapping[str, Any], prefix: str = "") -> ExactIndex:
        """The tables saved under `prefix` in a mapped array file, described by `meta`."""
        index = cls({})
        try:
            for kind, digits in meta["digits"].items():
                table = ExactTable.from_file(file, f"{prefix}{kind}/", digits)
                table._odd = {v: list(ls) for v, ls in meta["odd"].get(kind, {}).items()}
                index.tables[kind] = table
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{file.path}: the exact tables are described badly: {exc}") from exc
        return index

    def save(self, path: Path, header: dict[str, object] | None = None) -> None:
        """Write every table (and `header`, e.g. known-good set names) to one file."""
        meta, columns = self.columns()
        write_array_file(path, FORMAT, VERSION, {**(header or {}), "tables": meta}, columns)

    @classmethod
    def load(cls, path: Path) -> tuple[ExactIndex, dict[str, Any]]:
        """The tables saved in `path` (memory-mapped) and the header they were saved with."""
        file = ArrayFile(path, FORMAT, VERSION)
        return cls.from_file(file, file.meta.get("tables") or {}), file.meta


def exact_kinds() -> dict[str, int | None]:
    """Every registered exact kind, with its hex length (None for kinds that are not hex)."""
    registry = default_registry()
    kinds: dict[str, int | None] = {}
    for name in registry.names():
        kind = registry.get(name)
        if kind.exact:
            kinds[name] = kind.digits if issubclass(kind, HexDigestKind) else None
    return kinds


def entries_index(bank: BankStore) -> ExactIndex:
    """The bank's exact signals, labelled with their entry ids."""
    index = ExactIndex(exact_kinds())
    for kind, table in index.tables.items():
        pairs = list(bank.entries.signals(kind))
        table.add([p[1] for p in pairs], [p[0] for p in pairs])
        table.compact()
    return index


class KnownGoodIndex:
    """The bank's known-good sets: exact tables labelled by set number, and the set names."""

    def __init__(self, index: ExactIndex, names: list[str]) -> None:
        self.index, self.names = index, names

    @classmethod
    def from_bank(cls, bank: BankStore, *, limit: int | None = None) -> KnownGoodIndex:
        """The bank's known-good tables; a kind with more than `limit` values (a whole NSRL
        release) gets no table, so it is looked up in the bank rather than read at start."""
        # PDQ too: known-good sets hold pictures by their exact hash, asked of every look-up.
        index = ExactIndex({**exact_kinds(), "pdq": 64})
        numbers: dict[str, int] = {}
        for kind, table in list(index.tables.items()):
            rows = list(bank.known_good.signals(kind, limit=-1 if limit is None else limit + 1))
            if limit is not None and len(rows) > limit:
                del index.tables[kind]
                continue
            table.add([r[0] for r in rows], [numbers.setdefault(r[1], len(numbers)) for r in rows])
            table.compact()
        return cls(index, list(numbers))

    def columns(self) -> tuple[dict[str, object], dict[str, Column]]:
        """(meta, columns) for an array file: the tables and the set names."""
        meta, columns = self.index.columns()
        return {**meta, "sets": self.names}, columns

    @classmethod
    def from_file(cls, file: ArrayFile, meta: Mapping[str, Any]) -> KnownGoodIndex:
        names = meta.get("sets")
        if not isinstance(names, list):
            raise DataError(f"{file.path}: the known-good index names no sets")
        return cls(ExactIndex.from_file(file, meta), [str(n) for n in names])
