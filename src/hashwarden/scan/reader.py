"""Read evidence: files on disk and members of zip and tar archives, nested, defensively.

Evidence is opened read-only (with O_NOATIME where the system allows it) and never written.
Archives are never extracted to disk: members are read into memory within limits, so hostile
names (zip-slip) are harmless and only reported, and zip bombs stop at the size and ratio
limits. Every problem becomes an `Item` with a reason instead of an exception.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hashwarden.signals.hashing import open_readonly

__all__ = ["Item", "Limits", "read_items"]


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile case from exhausting memory or time."""

    max_member_bytes: int = 512 * 1024 * 1024
    max_archive_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: int = 200
    max_depth: int = 4
    max_members: int = 100_000


@dataclass
class Item:
    """One thing read: a file or an archive member (`path` like `a.zip!dir/b.jpg`)."""

    path: str
    data: bytes | None = None
    disk_path: Path | None = None
    size: int | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _display(path: Path) -> str:
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _unsafe_member_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _archive_kind(head: bytes, name: str) -> str | None:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    lowered = name.lower()
    compressed = head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ"))
    if compressed and lowered.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return "tar"
    return None


def read_items(paths: Iterable[Path], limits: Limits | None = None) -> Iterator[Item]:
    """Every file under the paths and every archive member inside them, in a stable order."""
    bounds = limits or Limits()
    for root in paths:
        yield from _walk(root, bounds)


def _walk(root: Path, limits: Limits) -> Iterator[Item]:
    try:
        info = root.lstat()
    except OSError as exc:
        yield Item(_display(root), error=f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISLNK(info.st_mode):
        yield Item(_display(root), error="symbolic link, not followed")
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            children = sorted(os.scandir(root), key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            yield Item(_display(root), error=f"cannot list folder: {exc.strerror or exc}")
            return
        for child in children:
            yield from _walk(Path(child.path), limits)
        return
    if not stat.S_ISREG(info.st_mode):
        yield Item(_display(root), error="not a regular file (device, socket or pipe), skipped")
        return
    item = Item(_display(root), disk_path=root, size=info.st_size)
    yield item
    if info.st_size == 0:
        return
    try:
        with open_readonly(root) as f:
            head = f.read(512)
    except OSError:
        return  # the hashing stage reports the same failure for the item itself
    kind = _archive_kind(head, root.name)
    if kind is not None:
        if info.st_size > limits.max_archive_bytes:
            item.notes.append("archive over the size limit: members not read")
            return
        try:
            with open_readonly(root) as f:
                data = f.read()
        except OSError:
            return
        yield from _members(item.path, data, kind, 1, limits)


def _members(label: str, data: bytes, kind: str, depth: int, limits: Limits) -> Iterator[Item]:
    if depth > limits.max_depth:
        yield Item(f"{label}!", error=f"archives nested deeper than {limits.max_depth}, not opened")
        return
    try:
        if kind == "zip":
            yield from _zip_members(label, data, depth, limits)
        else:
            yield from _tar_members(label, data, depth, limits)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
        yield Item(f"{label}!", error=f"corrupt {kind} archive: {exc}")


def _member_item(label: str, name: str, data: bytes, depth: int, limits: Limits) -> Iterator[Item]:
    item = Item(f"{label}!{name}", data=data, size=len(data))
    if _unsafe_member_name(name):
        item.notes.append("unsafe member name (path traversal); hashed in memory, never extracted")
    yield item
    kind = _archive_kind(data[:512], name)
    if kind is not None:
        yield from _members(item.path, data, kind, depth + 1, limits)


def _zip_members(label: str, data: bytes, depth: int, limits: Limits) -> Iterator[Item]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            yield Item(f"{label}!", error=f"over {limits.max_members} members, not opened")
            return
        total = 0
        for info in infos:
            name = info.filename
            if info.is_dir():
                continue
            where = f"{label}!{name}"
            if info.flag_bits & 0x1:
                yield Item(where, error="encrypted archive member, cannot be read")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.max_member_bytes or ratio > limits.max_ratio:
                yield Item(
                    where,
                    size=info.file_size,
                    error=f"possible zip bomb: {info.file_size} bytes from "
                    f"{info.compress_size} (ratio {ratio:.0f}), not expanded",
                )
                continue
            total += info.file_size
            if total > limits.max_archive_bytes:
                yield Item(where, error="archive expands past the total size limit, stopped")
                return
            try:
                with archive.open(info) as member:
                    content = member.read(limits.max_member_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                yield Item(where, error=f"corrupt archive member: {exc}")
                continue
            if len(content) > limits.max_member_bytes:
                yield Item(where, error="member larger than its header says (zip bomb), stopped")
                continue
            yield from _member_item(label, name, content, depth, limits)


def _tar_members(label: str, data: bytes, depth: int, limits: Limits) -> Iterator[Item]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        total = 0
        count = 0
        for info in archive:
            count += 1
            if count > limits.max_members:
                yield Item(f"{label}!", error=f"over {limits.max_members} members, stopped")
                return
            where = f"{label}!{info.name}"
            if info.issym() or info.islnk():
                yield Item(where, error="link inside archive, not followed")
                continue
            if not info.isfile():
                continue
            if info.size > limits.max_member_bytes:
                yield Item(where, size=info.size, error="member over the size limit, not read")
                continue
            total += info.size
            if total > limits.max_archive_bytes:
                yield Item(where, error="archive expands past the total size limit, stopped")
                return
            member = archive.extractfile(info)
            if member is None:
                continue
            yield from _member_item(label, info.name, member.read(), depth, limits)
