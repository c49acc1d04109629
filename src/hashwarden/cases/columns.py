"""The case store's columnar form of the fingerprints a retro-hunt reads, and the vectorised
matching over it.

Beside `cases.db`, each kept scan has a folder `columns/<scan id>/` of segment files (one per
batch of files a scan wrote, about `store.BATCH` files each), in the array-file format of
`_arrayfile` (memory-mapped when read; written to a temporary name, then renamed):

    md5.file, sha1.file, sha256.file   int64 (n,)      the file id of each digest, ascending
    md5, sha1, sha256                  uint8 (n, 16|20|32)   the digest's bytes
    pdq.file                           int64 (m,)      the file id of each PDQ (and variant)
    pdq                                uint8 (m, 32)   the PDQ's 256 bits
    pdq.variant                        uint8 (m,)      index into meta "variants" ("" original)
    pdq.quality                        uint8 (m,)      the file's PDQ quality, 255 unknown

A scan's segments are written into `columns/<scan id>.partial/` as it goes and the folder is
renamed to `columns/<scan id>/` when the scan is kept, before the scan's row says so: a kept
scan's columns are whole. The rows of `hashes` in `cases.db` stay the store's record (other
kinds, the API); a store from before the columns gets them built from those rows
(`CaseStore.build_columns`).

PDQ near pairs are found by a multi-index over the smaller side: 256 bits cut into 16 words of
16 bits; two hashes within `threshold` bits agree to within `threshold // 16` bits on at least
one word (pigeonhole), so a table from each word value to the hashes within that many bits of it
gives every candidate with 16 look-ups, and an XOR and bit count of the candidates confirms.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from hashwarden._arrayfile import ArrayFile, Column, write_array_file
from hashwarden.errors import DataError

__all__ = [
    "DIGESTS",
    "FORMAT",
    "DigestMatcher",
    "NearMatcher",
    "Segment",
    "read_segments",
    "segment_arrays",
    "write_segment",
]

FORMAT = "hashwarden-case-columns"
VERSION = 1
#: The exact kinds kept in columns, with their digests' sizes in bytes (other kinds, such as
#: the P2P identifiers, are matched by a join on the store's `hashes` table).
DIGESTS = {"md5": 16, "sha1": 20, "sha256": 32}
#: `pdq.quality` of a file whose PDQ quality is not known (kept, as the store keeps NULL).
UNKNOWN_QUALITY = 255
#: Stored PDQ rows compared at a time (bounds the candidate arrays).
CHUNK = 65_536
#: Hashes on the indexed side of one multi-index (bounds its tables).
INDEXED = 16_384
#: Beyond this many bits a word may differ by, the tables grow too large: compare all pairs.
MAX_WORD_FLIPS = 2

_EMPTY_FILES = np.zeros(0, dtype=np.int64)


def _hex_bytes(values: Sequence[str], size: int, kind: str) -> np.ndarray:
    try:
        raw = b"".join(bytes.fromhex(v) for v in values)
    except ValueError as exc:
        raise DataError(f"a stored {kind} is not hexadecimal ({exc})") from exc
    if len(raw) != size * len(values):
        raise DataError(f"a stored {kind} is not {size} bytes long")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), size)


def segment_arrays(
    rows: Iterable[tuple[int, str, str, str, int | None]],
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays of a segment from (file id, kind, variant, value, PDQ quality) rows in
    ascending file id; kinds other than the digests and PDQ are left out. Also the variant
    names, indexed by `pdq.variant`."""
    digests: dict[str, tuple[list[int], list[str]]] = {k: ([], []) for k in DIGESTS}
    pdq_files: list[int] = []
    pdq_values: list[str] = []
    pdq_variants: list[int] = []
    pdq_quality: list[int] = []
    variants: dict[str, int] = {"": 0}
    for file_id, kind, variant, value, quality in rows:
        if kind in digests:
            digests[kind][0].append(file_id)
            digests[kind][1].append(value)
        elif kind == "pdq":
            pdq_files.append(file_id)
            pdq_values.append(value)
            pdq_variants.append(variants.setdefault(variant, len(variants)))
            pdq_quality.append(UNKNOWN_QUALITY if quality is None else min(quality, 254))
    if len(variants) > 255:
        raise DataError("more than 255 PDQ variant names in one segment")
    arrays: dict[str, np.ndarray] = {}
    for kind, size in DIGESTS.items():
        files, values = digests[kind]
        arrays[f"{kind}.file"] = np.array(files, dtype=np.int64)
        arrays[kind] = _hex_bytes(values, size, kind)
    arrays["pdq.file"] = np.array(pdq_files, dtype=np.int64)
    arrays["pdq"] = _hex_bytes(pdq_values, 32, "pdq")
    arrays["pdq.variant"] = np.array(pdq_variants, dtype=np.uint8)
    arrays["pdq.quality"] = np.array(pdq_quality, dtype=np.uint8)
    return arrays, list(variants)


_DTYPES = {np.dtype(np.int64): "<i8", np.dtype(np.uint8): "|u1"}


def write_segment(
    folder: Path, arrays: dict[str, np.ndarray], variants: Sequence[str]
) -> Path | None:
    """Write a segment (`segment_arrays`' form) into `folder`, named after its first file id;
    nothing when it holds no fingerprint."""
    files = [arrays[f"{k}.file"] for k in (*DIGESTS, "pdq")]
    if not any(len(f) for f in files):
        return None
    first = min(int(f[0]) for f in files if len(f))
    last = max(int(f[-1]) for f in files if len(f))
    columns = {}
    for name, array in arrays.items():
        data = np.ascontiguousarray(array)
        columns[name] = Column(_DTYPES[data.dtype], data.shape, data)
    path = folder / f"{first:012d}.arrays"
    meta = {"first": first, "last": last, "variants": list(variants)}
    write_array_file(path, FORMAT, VERSION, meta, columns)
    return path


class Segment:
    """A segment file mapped into memory, its arrays as numpy arrays (read-only views of the
    mapping: dropping the segment and its arrays unmaps it)."""

    def __init__(self, path: Path) -> None:
        self._file = ArrayFile(path, FORMAT, VERSION)
        self.first = int(self._file.meta["first"])
        self.last = int(self._file.meta["last"])
        self.variants: list[str] = list(self._file.meta["variants"])

    def array(self, name: str) -> np.ndarray:
        dtype, shape, view = self._file.raw(name)
        return np.frombuffer(view, dtype=np.dtype(dtype)).reshape(shape)

    def rows(self, kind: str, lo: int, hi: int) -> slice:
        """The rows of a kind whose file ids are within lo..hi (the ids ascend)."""
        files = self.array(f"{kind}.file")
        return slice(
            int(np.searchsorted(files, lo, "left")), int(np.searchsorted(files, hi, "right"))
        )


def read_segments(folders: Iterable[Path], lo: int, hi: int) -> Iterator[Segment]:
    """The segments of these scan folders holding files within lo..hi."""
    for folder in folders:
        for path in sorted(folder.glob("*.arrays")):
            try:
                first = int(path.stem)
            except ValueError:
                continue
            if first > hi:
                break
            segment = Segment(path)
            if segment.last >= lo:
                yield segment


def _keys(digests: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each digest as one unsigned 64-bit key."""
    return np.ascontiguousarray(digests[:, :8]).view("<u8").ravel()


class DigestMatcher:
    """Finds stored digests (rows of bytes) equal to wanted ones: the first 8 bytes compared
    as keys against the wanted ones' sorted keys, the whole digest confirmed on candidates."""

    def __init__(self, wanted: Sequence[bytes]) -> None:
        self.wanted = list(wanted)
        size = len(self.wanted[0]) if self.wanted else 8
        want = np.frombuffer(b"".join(self.wanted), dtype=np.uint8).reshape(-1, size)
        keys = _keys(want)
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]

    def matches(self, stored: np.ndarray) -> list[tuple[int, int]]:
        """(stored row, wanted index) of every stored digest equal to a wanted one."""
        found: list[tuple[int, int]] = []
        if not self.wanted:
            return found
        for start in range(0, len(stored), CHUNK):
            keys = _keys(stored[start : start + CHUNK])
            for row in np.flatnonzero(np.isin(keys, self._keys)).tolist():
                at = int(np.searchsorted(self._keys, keys[row], "left"))
                while at < len(self._keys) and self._keys[at] == keys[row]:
                    index = int(self._order[at])
                    if stored[start + row].tobytes() == self.wanted[index]:
                        found.append((start + row, index))
                    at += 1
        return found


def _flips(flips: int) -> np.ndarray:
    """Every 16-bit mask of at most `flips` bits set."""
    masks = [0]
    for count in range(1, flips + 1):
        masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(16), count)]
    return np.array(masks, dtype=np.uint16)


class _WordTables:
    """Per word, a table from each of the 65,536 values to the indexed hashes within `flips`
    bits of it on that word (compressed rows: `offsets` into `members`)."""

    def __init__(self, words: np.ndarray, flips: int) -> None:
        masks = _flips(flips)
        owners = np.repeat(np.arange(len(words), dtype=np.intp), len(masks))
        self.offsets: list[np.ndarray] = []
        self.members: list[np.ndarray] = []
        for w in range(16):
            keys = (words[:, w][:, None] ^ masks[None, :]).ravel()
            self.members.append(owners[np.argsort(keys, kind="stable")])
            offsets = np.zeros((1 << 16) + 1, dtype=np.intp)
            np.cumsum(np.bincount(keys, minlength=1 << 16), out=offsets[1:])
            self.offsets.append(offsets)

    def candidates(self, words: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(query row, indexed hash) of every pair listed under the queries' word `w`."""
        offsets = self.offsets[w]
        keys = words[:, w].astype(np.intp)
        starts = offsets[keys]
        counts = offsets[keys + 1] - starts
        rows = np.repeat(np.arange(len(words), dtype=np.intp), counts)
        ends = np.cumsum(counts)
        positions = np.arange(len(rows), dtype=np.intp) + np.repeat(starts - ends + counts, counts)
        return rows, self.members[w][positions]


class NearMatcher:
    """Finds the PDQ hashes (rows of 32 bytes) within `threshold` bits of wanted ones,
    through word tables built once over the wanted hashes (in blocks of `INDEXED`)."""

    def __init__(self, wanted: np.ndarray, threshold: int) -> None:
        self.threshold = threshold
        flips = threshold // 16
        self._blocks = [
            (a, part, None if flips > MAX_WORD_FLIPS else _WordTables(part.view(np.uint16), flips))
            for a in range(0, len(wanted), INDEXED)
            for part in [np.ascontiguousarray(wanted[a : a + INDEXED])]
        ]
        self._wanted = len(wanted)

    def pairs(self, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(stored row, wanted row, distance) of every pair within the threshold, each pair
        once, ordered by stored row then wanted row."""
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for a, part, tables in self._blocks:
            for s in range(0, len(stored), CHUNK):
                chunk = np.ascontiguousarray(stored[s : s + CHUNK])
                if tables is None:
                    rows, members, distances = _all_pairs(chunk, part, self.threshold)
                else:
                    rows, members, distances = _chunk_pairs(chunk, tables, part, self.threshold)
                found.append((rows + s, members + a, distances))
        if not found:
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty, empty
        rows = np.concatenate([f[0] for f in found])
        wants = np.concatenate([f[1] for f in found])
        distances = np.concatenate([f[2] for f in found])
        # A pair close on several words is listed once per word: keep it once.
        _, first = np.unique(rows * (self._wanted + 1) + wants, return_index=True)
        return rows[first], wants[first], distances[first]


def _chunk_pairs(
    chunk: np.ndarray, tables: _WordTables, part: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The near pairs of a chunk of stored hashes and the indexed ones. The candidates are
    sifted on their first 128 bits (a random pair is within 31 bits there about once in 10^9),
    then the few left are compared whole."""
    stored_bits, wanted_bits = chunk.view(np.uint64), part.view(np.uint64)
    a0, a1 = stored_bits[:, 0].copy(), stored_bits[:, 1].copy()
    b0, b1 = wanted_bits[:, 0].copy(), wanted_bits[:, 1].copy()
    words = chunk.view(np.uint16)
    rows_out, members_out = [], []
    for w in range(16):
        rows, members = tables.candidates(words, w)
        half = np.bitwise_count(a0[rows] ^ b0[members])
        half += np.bitwise_count(a1[rows] ^ b1[members])
        near = half <= threshold
        if near.any():
            rows_out.append(rows[near])
            members_out.append(members[near])
    if not rows_out:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    rows, members = np.concatenate(rows_out), np.concatenate(members_out)
    distances = _distances(stored_bits[rows], wanted_bits[members])
    near = distances <= threshold
    return rows[near], members[near], distances[near]


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits differing between paired rows of two (n, 4) uint64 arrays."""
    counts = np.bitwise_count(a ^ b).astype(np.intp)
    return counts[:, 0] + counts[:, 1] + counts[:, 2] + counts[:, 3]


def _all_pairs(
    chunk: np.ndarray, part: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored row against every wanted row (for thresholds the word tables cannot
    serve: beyond 47 bits)."""
    stored_bits, wanted_bits = chunk.view(np.uint64), part.view(np.uint64)
    out = []
    step = max(1, (1 << 20) // max(1, len(part)))
    for s in range(0, len(chunk), step):
        xored = stored_bits[s : s + step, None, :] ^ wanted_bits[None, :, :]
        distances = np.bitwise_count(xored).sum(axis=2, dtype=np.intp)
        rows, wants = np.nonzero(distances <= threshold)
        out.append((rows + s, wants, distances[rows, wants]))
    return (
        np.concatenate([o[0] for o in out]),
        np.concatenate([o[1] for o in out]),
        np.concatenate([o[2] for o in out]),
    )
