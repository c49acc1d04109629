"""Near-duplicate search over PDQ hashes by Hamming distance.

Hashes are held as an (N, 4) array of uint64 words and compared with numpy's vectorised
popcount: exact results for any threshold, no Python object per entry.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["PdqIndex", "hex_to_words", "pdq_distance"]


def hex_to_words(hexes: Iterable[str]) -> np.ndarray:
    """64-digit hex strings to an (N, 4) uint64 array (big-endian words, as the hex reads)."""
    raw = b"".join(bytes.fromhex(h) for h in hexes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class PdqIndex:
    """An exact PDQ index: `query` returns every id within `threshold` bits."""

    def __init__(self, ids: Iterable[int] = (), hexes: Iterable[str] = ()) -> None:
        id_list = list(ids)
        hex_list = list(hexes)
        if len(id_list) != len(hex_list):
            raise ValueError("ids and hashes differ in length")
        self._ids = np.asarray(id_list, dtype=np.int64)
        self._words = hex_to_words(hex_list) if hex_list else np.zeros((0, 4), dtype=np.uint64)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def add(self, ids: Iterable[int], hexes: Iterable[str]) -> None:
        other = PdqIndex(ids, hexes)
        self._ids = np.concatenate([self._ids, other._ids])
        self._words = np.concatenate([self._words, other._words])

    def remove(self, ids: Iterable[int]) -> None:
        keep = ~np.isin(self._ids, np.asarray(list(ids), dtype=np.int64))
        self._ids, self._words = self._ids[keep], self._words[keep]

    def query(self, pdq_hex: str, threshold: int = 31) -> list[tuple[int, int]]:
        """(id, distance) of every hash within `threshold`, nearest first."""
        if len(self) == 0:
            return []
        query = hex_to_words([pdq_hex])[0]
        distances = np.bitwise_count(self._words ^ query).sum(axis=1, dtype=np.int32)
        hits = np.flatnonzero(distances <= threshold)
        order = hits[np.argsort(distances[hits], kind="stable")]
        return [(int(self._ids[i]), int(distances[i])) for i in order]
