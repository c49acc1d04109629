"""Compute P2P identifiers of content in the same single pass as the other digests.

eDonkey and Tiger Tree Hash come from librhash (the C library behind Debian's `rhash`, loaded
with ctypes); the BitTorrent v1 info-hash is computed here: the SHA-1 of the bencoded info
dictionary {length, name, piece length, pieces} of a single-file torrent of the file, named by
the file's name, with rhash's piece length rule (16 KiB below 16 MiB; otherwise the smallest
power of two above the size, divided by 1024; 8 MiB from 4 GiB on). Torrents made by other
clients with other piece lengths or names have other info-hashes: match those by the torrent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
from typing import Any

from hashwarden.errors import UsageError

__all__ = ["RhashHasher", "TorrentHasher", "bencode", "btih_piece_length"]

_ED2K, _TTH = 0x80, 0x20
_HEX, _BASE32, _UPPER = 2, 3, 8


@functools.cache
def _librhash() -> Any:
    path = ctypes.util.find_library("rhash") or "librhash.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise UsageError("P2P identifiers need librhash (Debian package librhash0)") from exc
    lib.rhash_library_init()
    lib.rhash_init.restype = ctypes.c_void_p
    lib.rhash_init.argtypes = [ctypes.c_uint]
    lib.rhash_update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rhash_final.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.rhash_print.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    lib.rhash_print.restype = ctypes.c_size_t
    lib.rhash_free.argtypes = [ctypes.c_void_p]
    return lib


_BLOCK = 16 * 1024


def _pow2(count: int) -> int:
    size = 1
    while size < count:
        size *= 2
    return size


def _merkle(hashes: list[bytes], width: int, *, pad: bytes = b"\0" * 32) -> bytes:
    """Root of a SHA-256 merkle tree over `hashes` padded with `pad` to `width` leaves."""
    layer = hashes + [pad] * (width - len(hashes))
    while len(layer) > 1:
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
    return layer[0]


def btih_piece_length(size: int) -> int:
    if size < 16 * 1024 * 1024:
        return 16 * 1024
    if size >= 4 * 1024**3:
        return 8 * 1024 * 1024
    high = 32 * 1024 * 1024
    while high <= size:
        high <<= 1
    return high >> 10


def bencode(value: Any) -> bytes:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


class RhashHasher:
    """ed2k and tth, from librhash: a `StreamHasher` (signals/base.py). librhash runs without
    the GIL, so in a thread of its own it hashes beside the other digests."""

    def __init__(self, *, size: int | None, name: str | None) -> None:
        self._lib = _librhash()
        self._ctx = self._lib.rhash_init(_ED2K | _TTH)

    def update(self, chunk: bytes) -> None:
        self._lib.rhash_update(self._ctx, chunk, len(chunk))

    def result(self) -> dict[str, str]:
        lib, out = self._lib, ctypes.create_string_buffer(130)
        lib.rhash_final(self._ctx, None)
        lib.rhash_print(out, self._ctx, _ED2K, _HEX)
        found = {"ed2k": out.value.decode()}
        lib.rhash_print(out, self._ctx, _TTH, _BASE32 | _UPPER)
        found["tth"] = out.value.decode()
        lib.rhash_free(self._ctx)
        self._ctx = None
        return found


class TorrentHasher:
    """btih, btmh and bt_root of a single-file torrent of the content: a `StreamHasher` that
    needs the file's name and size up front (without them it gives nothing)."""

    def __init__(self, *, size: int | None, name: str | None) -> None:
        self._name, self._size = name, size
        self._fed = 0
        self._piece = btih_piece_length(size) if size is not None and name else 0
        self._pieces: list[bytes] = []
        self._current = hashlib.sha1()
        self._filled = 0
        # BitTorrent v2: SHA-256 of each 16 KiB block, reduced to one root per piece at once.
        self._block = hashlib.sha256()
        self._block_filled = 0
        self._leaves: list[bytes] = []
        self._piece_roots: list[bytes] = []

    def update(self, chunk: bytes) -> None:
        self._fed += len(chunk)
        if not self._piece:
            return
        self._update_v2(chunk)
        view = memoryview(chunk)
        while view:
            take = min(len(view), self._piece - self._filled)
            self._current.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self._piece:
                self._pieces.append(self._current.digest())
                self._current, self._filled = hashlib.sha1(), 0

    def _update_v2(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            take = min(len(view), _BLOCK - self._block_filled)
            self._block.update(view[:take])
            self._block_filled += take
            view = view[take:]
            if self._block_filled == _BLOCK:
                self._end_block()

    def _end_block(self) -> None:
        self._leaves.append(self._block.digest())
        self._block, self._block_filled = hashlib.sha256(), 0
        if len(self._leaves) == self._piece // _BLOCK:
            self._piece_roots.append(_merkle(self._leaves, len(self._leaves)))
            self._leaves = []

    def _v2(self, name: str, size: int) -> dict[str, str]:
        """btmh and bt_root per BEP 52 (a single-file torrent of the file)."""
        if self._block_filled:
            self._end_block()
        per_piece = self._piece // _BLOCK
        entry: dict[str, object] = {"length": size}
        found: dict[str, str] = {}
        if size:
            if not self._piece_roots:  # smaller than one piece: pad its blocks only
                root = _merkle(self._leaves, _pow2(len(self._leaves)))
            else:
                if self._leaves:
                    self._piece_roots.append(_merkle(self._leaves, per_piece))
                zero = _merkle([], per_piece)
                root = _merkle(self._piece_roots, _pow2(len(self._piece_roots)), pad=zero)
            entry["pieces root"] = root
            found["bt_root"] = root.hex()
        info = {
            "file tree": {os.fsencode(name): {b"": entry}},
            "meta version": 2,
            "name": os.fsencode(name),
            "piece length": self._piece,
        }
        found["btmh"] = hashlib.sha256(bencode(info)).hexdigest()
        return found

    def result(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self._piece and self._name is not None and self._size is not None:
            if self._filled:
                self._pieces.append(self._current.digest())
            info = {
                "length": self._size,
                "name": os.fsencode(self._name),  # the name as the file system holds it
                "piece length": self._piece,
                "pieces": b"".join(self._pieces),
            }
            found["btih"] = hashlib.sha1(bencode(info)).hexdigest()
            found.update(self._v2(self._name, self._size))
            if self._fed != self._size:  # the file changed while read: its pieces are off
                del found["btih"]
        return found
