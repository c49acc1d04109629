"""Exact near-duplicate search over PDQ hashes by Hamming distance: multi-index hashing.

The 256 bits are cut into 16 chunks of 16 bits. Two hashes within distance t <= 31 agree on
some chunk to within floor(t / 16) bits (pigeonhole), so a query only needs the hashes whose
chunk equals one of its own chunks or a one-bit neighbour of it (t >= 16): at most 272 buckets
of about N / 65536 hashes each. Those candidates are verified with an exact popcount, so the
result is exactly what a brute-force scan returns. Above 31 the index falls back to a
vectorised brute-force scan (exact, slower), unless the caller asks for completeness only up to
31 (`complete`): the same buckets are then verified up to the larger threshold, which finds
nearly every hash a few bits further (all of those sharing a chunk within one bit, above 99% at
distance 40) at the cost of a distance-31 search, as the match service's noisy band needs.

Storage is numpy arrays only: the hashes as (N, 4) uint64 sorted by their first chunk (so that
chunk's buckets are plain row ranges), ids (int32 when they fit), and for each other chunk a
permutation (uint32) sorted by chunk value, with bucket offsets: about 96 bytes a hash. A hash
found through several chunks is reported once, through the first chunk that reaches it. The
index is saved as one array file (`hashwarden._arrayfile`: a JSON header and the raw arrays,
no pickle) and loaded memory-mapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from hashwarden._arrayfile import ArrayFile, Column, write_array_file
from hashwarden.errors import DataError
from hashwarden.index._arrays import column, mapped

__all__ = ["FORMAT", "MIH_MAX_THRESHOLD", "VERSION", "PdqIndex", "hex_to_words", "pdq_distance"]

FORMAT = "hashwarden-pdq-index"
VERSION = 3
_CHUNKS = 16
_BUCKETS = 1 << 16
#: Thresholds up to this use the multi-index; above it, brute force.
MIH_MAX_THRESHOLD = 31
#: Indexes of fewer hashes are searched by brute force: one XOR and popcount over a few
#: thousand rows costs less than the multi-index's 272 probes (at 1,000 hashes about 45 us a
#: query against 280 us; even at 10,000; `benchmarks/bench_pdq_index.py`).
BRUTE_FORCE_BELOW = 8_192
_ONE_BIT = np.array([0] + [1 << b for b in range(16)], dtype=np.int64)
_SHIFTS = np.array([48, 32, 16, 0] * 4, dtype=np.uint64)
_WORD_OF_CHUNK = np.repeat(np.arange(4), 4)
_CHUNK_BASE = np.arange(_CHUNKS) * (_BUCKETS + 1)  # where each chunk's offsets start, flat
#: Brute force compares all queries with all hashes in one pass up to this many pairs (32 bytes
#: each: 8 MB at most); beyond, a query at a time.
_BRUTE_TOGETHER = 1 << 18


def hex_to_words(hexes: Iterable[str]) -> np.ndarray:
    """64-digit hex strings to an (N, 4) uint64 array (big-endian words, as the hex reads)."""
    raw = b"".join(bytes.fromhex(h) for h in hexes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _popcount(xored: np.ndarray) -> np.ndarray:
    """Bits set in each row of an (N, 4) uint64 array."""
    counts = np.bitwise_count(xored)
    return counts[:, 0] + counts[:, 1] + counts[:, 2] + counts[:, 3]


def _chunk_errors(words: np.ndarray, query_chunks: np.ndarray) -> np.ndarray:
    """(N, 16) bits differing in each chunk between hashes and their queries' chunks."""
    return np.bitwise_count(_chunks(words) ^ query_chunks)


def _chunks(words: np.ndarray) -> np.ndarray:
    """(N, 16) chunk values of (N, 4) words."""
    return ((words[:, _WORD_OF_CHUNK] >> _SHIFTS) & np.uint64(0xFFFF)).astype(np.int64)


class PdqIndex:
    """An exact PDQ index: `query` returns every id within `threshold` bits, nearest first.

    Additions go to a small delta searched by brute force and merged into the main index
    when it grows; removals hide rows at once. Both take effect immediately.
    """

    #: Below this many hashes, brute force (an attribute, so tests can exercise the multi-index
    #: on small indexes).
    brute_force_below: int = BRUTE_FORCE_BELOW

    def __init__(self, ids: Iterable[int] = (), hexes: Iterable[str] = ()) -> None:
        id_list = list(ids)
        hex_list = list(hexes)
        if len(id_list) != len(hex_list):
            raise ValueError("ids and hashes differ in length")
        words = hex_to_words(hex_list) if hex_list else np.zeros((0, 4), dtype=np.uint64)
        self._build(np.asarray(id_list, dtype=np.int64), words)

    @classmethod
    def from_words(cls, ids: np.ndarray, words: np.ndarray) -> PdqIndex:
        """An index over hashes already packed as (N, 4) uint64 words (no hex round trip)."""
        index = cls.__new__(cls)
        index._build(np.asarray(ids, dtype=np.int64), np.ascontiguousarray(words, dtype=np.uint64))
        return index

    def _build(self, ids: np.ndarray, words: np.ndarray) -> None:
        count = len(ids)
        first = np.argsort((words[:, 0] >> np.uint64(48)).astype(np.uint16), kind="stable")
        words, ids = np.ascontiguousarray(words[first]), ids[first]
        if count and ids.min() >= -(2**31) and ids.max() < 2**31:
            ids = ids.astype(np.int32)  # 4 bytes a hash saved: entry ids are small
        chunks = _chunks(words)
        order = np.empty((_CHUNKS - 1, count), dtype=np.uint32)
        offsets = np.zeros((_CHUNKS, _BUCKETS + 1), dtype=np.int64)
        for c in range(_CHUNKS if count else 0):  # (an empty index: every bucket empty)
            offsets[c, 1:] = np.cumsum(np.bincount(chunks[:, c], minlength=_BUCKETS))
            if c:  # chunk 0 needs no permutation: the rows are in its order
                order[c - 1] = np.argsort(chunks[:, c].astype(np.uint16), kind="stable")
                offsets[c] += (c - 1) * count
        self._ids, self._words = ids, words
        self._order, self._offsets = order.reshape(-1), offsets
        self._live = np.ones(count, dtype=bool)
        self._delta_ids = np.zeros(0, dtype=np.int64)
        self._delta_words = np.zeros((0, 4), dtype=np.uint64)

    def __len__(self) -> int:
        return int(self._live.sum()) + len(self._delta_ids)

    def add(self, ids: Iterable[int], hexes: Iterable[str]) -> None:
        """Make hashes searchable at once; merged into the main index past 5% of its size."""
        hex_list = list(hexes)
        if not hex_list:
            return
        self._delta_ids = np.concatenate([self._delta_ids, np.asarray(list(ids), dtype=np.int64)])
        self._delta_words = np.concatenate([self._delta_words, hex_to_words(hex_list)])
        if len(self._delta_ids) > max(10_000, len(self._ids) // 20):
            self.compact()

    def remove(self, ids: Iterable[int]) -> None:
        """Never return these ids again."""
        gone = np.asarray(list(ids), dtype=np.int64)
        self._live = self._live & ~np.isin(self._ids, gone)
        keep = ~np.isin(self._delta_ids, gone)
        self._delta_ids, self._delta_words = self._delta_ids[keep], self._delta_words[keep]

    def compact(self) -> None:
        """Rebuild with the delta merged and removed rows dropped."""
        self._build(
            np.concatenate([self._ids[self._live], self._delta_ids]),
            np.concatenate([self._words[self._live], self._delta_words]),
        )

    def query(
        self, pdq_hex: str, threshold: int = 31, *, complete: int | None = None
    ) -> list[tuple[int, int]]:
        """(id, distance) of every hash within `threshold`, nearest first. With `complete`
        (<= 31, < threshold), only hashes within `complete` are sure to be found; those
        further, up to `threshold`, when the index's probes for `complete` reach them."""
        return self.query_many([pdq_hex], threshold, complete=complete)[0]

    def query_many(
        self, hexes: Sequence[str], threshold: int = 31, *, complete: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """`query` for many hashes at once."""
        if not hexes:
            return []
        queries = hex_to_words(hexes)
        reach = threshold if complete is None else min(complete, threshold)
        if reach <= MIH_MAX_THRESHOLD and len(self._ids) >= self.brute_force_below:
            # One query at a time: across a batch the candidate reads cover the whole index
            # anyway, and per-query arrays stay in cache.
            found = [
                self._candidates(queries[i : i + 1], threshold, reach) for i in range(len(queries))
            ]
            rows = np.concatenate([f[0] for f in found])
            labels = np.repeat(np.arange(len(queries)), [len(f[0]) for f in found])
            distances = np.concatenate([f[1] for f in found])
        else:
            rows, labels, distances = self._brute(self._words, queries, threshold)
            keep = self._live[rows]
            rows, labels, distances = rows[keep], labels[keep], distances[keep]
        found_ids = self._ids[rows]
        if len(self._delta_ids):
            d_rows, d_labels, d_dist = self._brute(self._delta_words, queries, threshold)
            found_ids = np.concatenate([found_ids, self._delta_ids[d_rows]])
            labels = np.concatenate([labels, d_labels])
            distances = np.concatenate([distances, d_dist])
        results: list[list[tuple[int, int]]] = [[] for _ in hexes]
        order = np.lexsort((found_ids, distances, labels))
        for label, entry, distance in zip(
            labels[order].tolist(),
            found_ids[order].tolist(),
            distances[order].tolist(),
            strict=True,
        ):
            results[label].append((entry, distance))
        return results

    def _candidates(
        self, query: np.ndarray, threshold: int, reach: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) of the live hashes within `threshold` of one (1, 4) query that
        the probes for `reach` find (all of them when `reach` is `threshold`)."""
        radius = 1 if reach >= _CHUNKS else 0
        probes = _ONE_BIT[: 1 + 16 * radius]
        # Sixteen Python ints: cheaper than numpy's shifts for one row.
        value = int.from_bytes(query.astype(">u8").tobytes(), "big")
        query_chunks = np.array([(value >> (240 - 16 * c)) & 0xFFFF for c in range(_CHUNKS)])
        flat = ((query_chunks[:, None] ^ probes[None, :]) + _CHUNK_BASE[:, None]).reshape(-1)
        offsets = self._offsets.reshape(-1)
        starts = offsets[flat]
        lengths = offsets[flat + 1] - starts
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]))
        # Chunk 0's positions are rows already; the other chunks' go through their permutation.
        direct = int(ends[len(probes) - 1])
        rows = np.concatenate([positions[:direct], np.take(self._order, positions[direct:])])
        # np.take, not fancy indexing: several times faster for row gathers.
        candidates = np.take(self._words, rows, axis=0)
        # Half the bits first: a bound on the distance that rules out nearly every candidate
        # (of random hashes, 1 in 10^10 is within 31 on 128 bits) at half the cost of all 256.
        half = np.bitwise_count(candidates[:, 0] ^ query[0, 0])
        half += np.bitwise_count(candidates[:, 1] ^ query[0, 1])
        found = np.flatnonzero(half <= threshold)
        found = found[self._live[rows[found]]]
        if not len(found):  # the usual answer: nothing banked is near
            return found, found
        distances = _popcount(candidates[found] ^ query)
        within = distances <= threshold
        found, distances = found[within], distances[within]
        rows = rows[found]
        # Report each hash once: through the first of its chunks within `radius` of the query's
        # (the chunk of the probe that found it, looked up only for the few within reach).
        chunk_of = np.searchsorted(ends, found, side="right") // len(probes)
        near = _chunk_errors(np.take(self._words, rows, axis=0), query_chunks) <= radius
        keep = near.argmax(axis=1) == chunk_of
        return rows[keep], distances[keep].astype(np.int64)

    @staticmethod
    def _brute(
        words: np.ndarray, queries: np.ndarray, threshold: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, labels, distances) of the hashes within `threshold` of each query. A small
        index meets all the queries in one XOR (a picture and its variants: nine queries, one
        numpy pass instead of nine); a larger one a query at a time, so memory stays bounded."""
        if len(queries) * len(words) <= _BRUTE_TOGETHER:
            distances = _popcount((words[None, :, :] ^ queries[:, None, :]).reshape(-1, 4))
            hits = np.flatnonzero(distances <= threshold)
            labels, rows = np.divmod(hits, max(len(words), 1))
            return rows, labels, distances[hits].astype(np.int64)
        rows_all, labels_all, dist_all = [], [], []
        for label, query in enumerate(queries):
            distances = _popcount(words ^ query)
            rows = np.flatnonzero(distances <= threshold)
            rows_all.append(rows)
            labels_all.append(np.full(len(rows), label, dtype=np.int64))
            dist_all.append(distances[rows].astype(np.int64))
        return np.concatenate(rows_all), np.concatenate(labels_all), np.concatenate(dist_all)

    # -- persistence -------------------------------------------------------------------------
    def columns(self, prefix: str = "") -> dict[str, Column]:
        """The index (delta merged) as columns of an array file, names under `prefix`."""
        self.compact()
        return {
            f"{prefix}{name}": column(getattr(self, f"_{name}"))
            for name in ("ids", "words", "order", "offsets")
        }

    @classmethod
    def from_file(cls, file: ArrayFile, prefix: str = "") -> PdqIndex:
        """The index saved under `prefix` in a mapped array file (nothing is copied)."""
        index = cls.__new__(cls)
        ids_type = file.raw(f"{prefix}ids")[0]
        if ids_type not in ("<i4", "<i8"):
            raise DataError(f"{file.path}: the index's ids are {ids_type}")
        index._ids = mapped(file, f"{prefix}ids", ids_type, 1)
        index._words = mapped(file, f"{prefix}words", "<u8", 2)
        index._order = mapped(file, f"{prefix}order", "<u4", 1)
        index._offsets = mapped(file, f"{prefix}offsets", "<i8", 2)
        count = len(index._ids)
        if (
            index._words.shape != (count, 4)
            or len(index._order) != (_CHUNKS - 1) * count
            or index._offsets.shape != (_CHUNKS, _BUCKETS + 1)
        ):
            raise DataError(f"{file.path}: the index's arrays do not agree in size")
        index._live = np.ones(count, dtype=bool)
        index._delta_ids = np.zeros(0, dtype=np.int64)
        index._delta_words = np.zeros((0, 4), dtype=np.uint64)
        return index

    def save(self, path: Path, header: dict[str, object] | None = None) -> None:
        """Write the index (delta merged) to one file, atomically, with `header` as its meta."""
        write_array_file(path, FORMAT, VERSION, header or {}, self.columns())

    @classmethod
    def load(cls, path: Path) -> tuple[PdqIndex, dict[str, object]]:
        """The index saved in `path` (memory-mapped) and its header."""
        file = ArrayFile(path, FORMAT, VERSION)
        return cls.from_file(file), file.meta
