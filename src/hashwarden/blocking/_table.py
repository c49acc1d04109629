"""The applied list's columns in numpy, for writing it (`blocklist apply`): a delta is merged
into the mapped columns without a Python object per unchanged record. Only the writer imports
this (and numpy); the look-ups read the file with the standard library (`applied`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hashwarden._arrayfile import Column
from hashwarden.errors import DataError

if TYPE_CHECKING:
    from hashwarden.blocking.applied import Record, _MappedRecords

__all__ = ["Table"]

_DIGEST_BYTES = 32
_MAX_BITS = 24


def _column(array: np.ndarray, dtype: str) -> Column:
    little = np.ascontiguousarray(array, dtype=np.dtype(dtype))
    return Column(dtype, tuple(little.shape), little)


def _keys(digests: np.ndarray) -> np.ndarray:
    """The look-up key of each digest: its first 8 bytes as a little-endian integer."""
    return np.ascontiguousarray(digests[:, :8]).view("<u8").ravel().astype(np.uint64)


def _buckets(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Where each value of the sorted keys' top bits starts (and the end), and those bits."""
    bits = min(max(len(keys).bit_length(), 1), _MAX_BITS)
    tops = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
    starts = np.searchsorted(keys, tops, side="left")
    return np.append(starts, len(keys)).astype(np.uint32), bits


@dataclass
class Table:
    """Records as columns: digests (N x 32 bytes), host keys, and string indexes."""

    digests: np.ndarray
    hosts: np.ndarray
    kinds: np.ndarray
    reasons: np.ndarray
    expiries: np.ndarray
    #: Index 0 is None.
    strings: list[str | None]

    @classmethod
    def of_records(cls, records: Mapping[bytes, Record]) -> Table:
        strings: dict[str | None, int] = {None: 0}
        digests = b"".join(records)
        if len(digests) != _DIGEST_BYTES * len(records):
            raise DataError("a block list digest is not 32 bytes long")
        rows: list[tuple[int, int, int, int]] = []
        for record in records.values():
            if len(record.host) != 8:
                raise DataError("a block list host key is not 8 bytes long")
            rows.append(
                (
                    int.from_bytes(record.host, "little"),
                    strings.setdefault(record.kind, len(strings)),
                    strings.setdefault(record.reason, len(strings)),
                    strings.setdefault(record.expires, len(strings)),
                )
            )
        table = np.array(rows, dtype=np.uint64).reshape(-1, 4)
        return cls(
            np.frombuffer(digests, dtype=np.uint8).reshape(-1, _DIGEST_BYTES),
            table[:, 0],
            table[:, 1].astype(np.uint32),
            table[:, 2].astype(np.uint32),
            table[:, 3].astype(np.uint32),
            list(strings),
        )

    @classmethod
    def of_mapped(cls, records: _MappedRecords) -> Table:
        """The columns of a mapped list, read in place (no copy until they are changed)."""
        return cls(
            np.frombuffer(records.digests, dtype=np.uint8).reshape(-1, _DIGEST_BYTES),
            np.frombuffer(records.record_hosts, dtype=np.uint64),
            np.frombuffer(records.kinds, dtype=np.uint32),
            np.frombuffer(records.reasons, dtype=np.uint32),
            np.frombuffer(records.expiries, dtype=np.uint32),
            records.strings.all(),
        )

    def without(self, digests: Iterable[bytes]) -> Table:
        """These records less the given digests."""
        gone = set(digests)
        if not gone or not len(self.digests):
            return self
        keys = _keys(self.digests)
        gone_keys = _keys(np.frombuffer(b"".join(gone), dtype=np.uint8).reshape(-1, 32))
        keep = np.ones(len(keys), dtype=bool)
        for at in np.flatnonzero(np.isin(keys, gone_keys)).tolist():  # about one per digest
            keep[at] = self.digests[at].tobytes() not in gone
        return self._select(keep)

    def _select(self, rows: Any) -> Table:
        return Table(
            self.digests[rows],
            self.hosts[rows],
            self.kinds[rows],
            self.reasons[rows],
            self.expiries[rows],
            self.strings,
        )

    def plus(self, other: Table) -> Table:
        """Both tables' records (`other` holds none of these digests)."""
        index = {text: at for at, text in enumerate(self.strings)}
        strings = list(self.strings)
        for text in other.strings:
            if text not in index:
                index[text] = len(strings)
                strings.append(text)
        remap = np.array([index[text] for text in other.strings], dtype=np.uint32)
        return Table(
            np.concatenate([self.digests, other.digests]),
            np.concatenate([self.hosts, other.hosts]),
            np.concatenate([self.kinds, remap[other.kinds]]),
            np.concatenate([self.reasons, remap[other.reasons]]),
            np.concatenate([self.expiries, remap[other.expiries]]),
            strings,
        )

    def columns(self) -> tuple[dict[str, Any], dict[str, Column]]:
        """(meta, columns) of the applied list's file: sorted by digest key, strings no record
        uses dropped."""
        keys = _keys(self.digests)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        used = np.unique(np.concatenate([[0], self.kinds, self.reasons, self.expiries]))
        renumber = np.zeros(len(self.strings), dtype=np.uint32)
        renumber[used] = np.arange(len(used), dtype=np.uint32)
        kinds, reasons, expiries = (
            renumber[c[order]] for c in (self.kinds, self.reasons, self.expiries)
        )
        texts = [str(self.strings[at]).encode() for at in used.tolist()[1:]]
        ends = np.cumsum([0, *(len(t) for t in texts)], dtype=np.uint64)
        digest_buckets, digest_bits = _buckets(keys)
        host_keys = np.unique(self.hosts)
        host_buckets, host_bits = _buckets(host_keys)
        counts = np.bincount(expiries, minlength=1)
        meta = {
            "digest_bits": digest_bits,
            "host_bits": host_bits,
            "expiry_counts": {str(at): int(n) for at, n in enumerate(counts.tolist()) if at and n},
        }
        blob = b"".join(texts)
        columns = {
            "digest_keys": _column(keys, "<u8"),
            "digest_buckets": _column(digest_buckets, "<u4"),
            "digests": _column(self.digests[order], "|u1"),
            "host_keys": _column(host_keys, "<u8"),
            "host_buckets": _column(host_buckets, "<u4"),
            "record_hosts": _column(self.hosts[order], "<u8"),
            "kinds": _column(kinds, "<u4"),
            "reasons": _column(reasons, "<u4"),
            "expiries": _column(expiries, "<u4"),
            "strings": Column("|u1", (len(blob),), blob),
            "string_ends": _column(ends, "<u8"),
        }
        return meta, columns
