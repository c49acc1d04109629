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

__all__ = ["P2PHasher", "bencode", "btih_piece_length"]

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


class P2PHasher:
    """Feed the content's chunks in order; `result()` gives ed2k, tth and (with a name and
    the size known up front) btih."""

    def __init__(self, *, size: int | None, name: str | None) -> None:
        self._lib = _librhash()
        self._ctx = self._lib.rhash_init(_ED2K | _TTH)
        self._name, self._size = name, size
        self._piece = btih_piece_length(size) if size is not None and name else 0
        self._pieces: list[bytes] = []
        self._current = hashlib.sha1()
        self._filled = 0

    def update(self, chunk: bytes) -> None:
        self._lib.rhash_update(self._ctx, chunk, len(chunk))
        if not self._piece:
            return
        view = memoryview(chunk)
        while view:
            take = min(len(view), self._piece - self._filled)
            self._current.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self._piece:
                self._pieces.append(self._current.digest())
                self._current, self._filled = hashlib.sha1(), 0

    def result(self) -> dict[str, str]:
        lib, out = self._lib, ctypes.create_string_buffer(130)
        lib.rhash_final(self._ctx, None)
        lib.rhash_print(out, self._ctx, _ED2K, _HEX)
        found = {"ed2k": out.value.decode()}
        lib.rhash_print(out, self._ctx, _TTH, _BASE32 | _UPPER)
        found["tth"] = out.value.decode()
        lib.rhash_free(self._ctx)
        self._ctx = None
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
        return found
