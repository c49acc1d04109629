"""Named fixed-width arrays in one file, memory-mapped when read: the form of the indexes saved
beside a bank and of the applied block list. Standard library only, so the light block-list
look-ups (Squid helper, DNS front) read it without numpy.

    bytes 0-7    magic b"HWARRAYS"
    bytes 8-15   length of the header, unsigned 64-bit little-endian
    header       UTF-8 JSON: {"format": str, "version": int, "meta": {...},
                              "arrays": {name: {"dtype": "<u8", "shape": [n, ...],
                                                "offset": int}}}
    data         each array's bytes, C order, little-endian, starting at its offset (a
                 multiple of 64 bytes from the start of the file)

Only plain integer and boolean types are allowed (no pickle, no object arrays). A file is
written whole to a temporary name in its folder, flushed to disk, then renamed over the old
one (keeping its mode): a reader sees the old file or the new one, never half of either, and a
reader that has mapped the old file keeps reading it after the rename.
"""

from __future__ import annotations

import array
import contextlib
import json
import mmap
import os
import secrets
import stat
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashwarden.errors import DataError

__all__ = ["ArrayFile", "Column", "read_meta", "write_array_file"]

MAGIC = b"HWARRAYS"
_ALIGN = 64
_MAX_HEADER = 256 << 20
#: dtype (numpy's spelling, little-endian) -> (struct/memoryview format, item size)
DTYPES = {
    "|b1": ("?", 1),
    "|u1": ("B", 1),
    "<u4": ("I", 4),
    "<i4": ("i", 4),
    "<u8": ("Q", 8),
    "<i8": ("q", 8),
}


@dataclass(frozen=True, slots=True)
class Column:
    """One array to write: its dtype (a key of DTYPES), shape and little-endian C-order bytes
    (any object with the buffer protocol: bytes, array.array, a contiguous numpy array)."""

    dtype: str
    shape: tuple[int, ...]
    data: Any


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _size(dtype: str, shape: tuple[int, ...]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count * DTYPES[dtype][1]


def write_array_file(
    path: Path, fmt: str, version: int, meta: Mapping[str, Any], columns: Mapping[str, Column]
) -> None:
    """Write the arrays and their header to `path` atomically (temporary file, fsync, rename)."""
    layout: dict[str, dict[str, Any]] = {}
    relative: dict[str, int] = {}
    offset = 0
    for name, column in columns.items():
        if column.dtype not in DTYPES:
            raise ValueError(f"{name}: dtype {column.dtype} cannot be saved")
        nbytes = _size(column.dtype, column.shape)
        if memoryview(column.data).nbytes != nbytes:
            raise ValueError(f"{name}: {memoryview(column.data).nbytes} bytes for {nbytes}")
        layout[name] = {"dtype": column.dtype, "shape": list(column.shape), "offset": 0}
        relative[name] = offset
        offset += _aligned(nbytes)
    header = {"format": fmt, "version": version, "meta": dict(meta), "arrays": layout}
    # The data starts after the header, whose length depends on the offsets it names.
    start = 0
    while True:
        for name, spec in layout.items():
            spec["offset"] = start + relative[name]
        text = json.dumps(header, separators=(",", ":")).encode()
        if _aligned(16 + len(text)) <= start:
            break
        start = _aligned(16 + len(text))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}-{secrets.token_hex(8)}")
    # Created as any file is (the umask applies); a file replaced keeps its mode.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(out.fileno(), stat.S_IMODE(path.stat().st_mode))
            out.write(MAGIC + struct.pack("<Q", len(text)) + text)
            out.write(b"\0" * (start - 16 - len(text)))
            for column in columns.values():
                view = memoryview(column.data)
                if view.nbytes:  # (an empty view cannot be cast)
                    out.write(view.cast("B"))
                    out.write(b"\0" * (-view.nbytes % _ALIGN))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_header(data: bytes | mmap.mmap, size: int, where: Path) -> dict[str, Any]:
    if size < 16 or data[:8] != MAGIC:
        raise DataError(f"{where} is not a hashwarden array file")
    (length,) = struct.unpack("<Q", data[8:16])
    if length > min(size - 16, _MAX_HEADER):
        raise DataError(f"{where}: the header is cut short (damaged file?)")
    try:
        header = json.loads(bytes(data[16 : 16 + length]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{where}: the header is not JSON ({exc})") from exc
    if not isinstance(header, dict) or not isinstance(header.get("meta"), dict):
        raise DataError(f"{where}: the header is malformed")
    return header


def _check_format(header: dict[str, Any], fmt: str, version: int, where: Path) -> None:
    found, found_version = header.get("format"), header.get("version")
    if found != fmt:
        raise DataError(f"{where} holds a {found!r}, not a {fmt}")
    if found_version != version:
        raise DataError(
            f"{where} is {fmt} version {found_version}; this hashwarden reads version {version}"
        )


def read_meta(path: Path, fmt: str, version: int) -> dict[str, Any]:
    """Only the header's `meta` of an array file (reads the header, maps nothing)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(16)
            if len(data) == 16 and data[:8] == MAGIC:
                (length,) = struct.unpack("<Q", data[8:16])
                data += f.read(min(length, size - 16, _MAX_HEADER))
    except OSError as exc:
        raise DataError(f"{path} cannot be read: {exc}") from exc
    header = _read_header(data, len(data), path)
    _check_format(header, fmt, version, path)
    return dict(header["meta"])


class ArrayFile:
    """An array file mapped into memory: `meta` and each array as a read-only memoryview of
    bytes (`raw`), or of items (`items`, one-dimensional arrays)."""

    def __init__(self, path: Path, fmt: str, version: int) -> None:
        self.path = path
        try:
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except (OSError, ValueError) as exc:
            raise DataError(f"{path} cannot be read: {exc}") from exc
        if self._map is None:
            raise DataError(f"{path} is empty")
        header = _read_header(self._map, size, path)
        _check_format(header, fmt, version, path)
        self.meta: dict[str, Any] = header["meta"]
        self.arrays: dict[str, tuple[str, tuple[int, ...], memoryview]] = {}
        arrays = header.get("arrays")
        if not isinstance(arrays, dict):
            raise DataError(f"{path}: the header lists no arrays")
        whole = memoryview(self._map)
        for name, spec in arrays.items():
            try:
                dtype, shape, offset = spec["dtype"], tuple(spec["shape"]), spec["offset"]
                valid = (
                    dtype in DTYPES
                    and all(isinstance(n, int) and n >= 0 for n in shape)
                    and isinstance(offset, int)
                    and offset % _ALIGN == 0
                )
            except (KeyError, TypeError) as exc:
                raise DataError(f"{path}: array {name!r} is described badly") from exc
            if not valid:
                raise DataError(f"{path}: array {name!r} is described badly")
            nbytes = _size(dtype, shape)
            if offset + nbytes > size:
                raise DataError(f"{path}: array {name!r} runs past the end (damaged file?)")
            self.arrays[name] = (dtype, shape, whole[offset : offset + nbytes])

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def raw(self, name: str) -> tuple[str, tuple[int, ...], memoryview]:
        """(dtype, shape, bytes) of an array; DataError when the file lacks it."""
        try:
            return self.arrays[name]
        except KeyError:
            raise DataError(f"{self.path}: no array {name!r} (damaged file?)") from None

    def items(self, name: str, dtype: str) -> Any:
        """A one-dimensional integer array's items, indexable and searchable with `bisect`
        (a memoryview of the mapping on little-endian machines, a copy elsewhere)."""
        found, shape, view = self.raw(name)
        if found != dtype or len(shape) != 1 or dtype == "|b1":
            raise DataError(f"{self.path}: array {name!r} is {found} {list(shape)}, not {dtype}")
        code = DTYPES[dtype][0]
        if view.nbytes and (sys.byteorder == "little" or DTYPES[dtype][1] == 1):
            return view.cast(code)  # type: ignore[call-overload]
        copy = array.array(code, bytes(view))
        if sys.byteorder != "little":
            copy.byteswap()
        return copy
