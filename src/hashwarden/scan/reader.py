"""Read evidence: files on disk and members of zip and tar archives, nested, defensively.

Evidence is opened read-only (with O_NOATIME where the system allows it) and never written.
Archives are never extracted to disk: members are read into memory within limits, so hostile
names (zip-slip) are harmless and only reported. Every problem becomes an `Item` with a reason
instead of an exception.

The limits hold for the whole scan, not per archive: a small file of nested archives must not
be able to multiply the work (16 copies a level, 5 levels is a million members from 24 KB).
What a limit cuts short becomes one item naming the archive (`a.zip!b.zip!`) and the limit,
never one item per member left unread, and `ReadStats` counts what was read and what was cut.
"""

from __future__ import annotations

import io
import lzma
import os
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hashwarden._types import LIMIT_FLAGS, Limits
from hashwarden.scan.walk import walk_files
from hashwarden.signals.hashing import open_readonly

__all__ = ["LIMIT_FLAGS", "MEMBER_COST", "Item", "Limits", "ReadStats", "read_items"]

KiB = 1024

#: What one member counts against its archive's budget on top of its size: its record, hash and
#: look-up cost more than hashing a few kilobytes. Every member takes at least ~76 bytes of its
#: archive (headers), so at the default ratio a flat archive never runs short through it; only
#: members multiplied by nesting do.
MEMBER_COST = 4 * KiB


@dataclass
class Item:
    """One thing read: a file or an archive member (`path` like `a.zip!dir/b.jpg`).

    `limit` names the `Limits` field that cut this item (or the rest of the archive the path
    ends in `!` for) short; its reason is in `error`. `archive` is "zip" or "tar" for an
    archive whose members follow it (set before the item is yielded).
    """

    path: str
    data: bytes | None = None
    disk_path: Path | None = None
    size: int | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    limit: str | None = None
    archive: str | None = None


@dataclass
class ReadStats:
    """What a scan read of its budget, and how often each limit cut something short."""

    records: int = 0
    archive_members: int = 0
    expanded_bytes: int = 0
    deepest: int = 0
    cut_short: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "archive_members": self.archive_members,
            "expanded_bytes": self.expanded_bytes,
            "deepest": self.deepest,
        }


@dataclass
class _Tree:
    """The budget of one archive on disk, shared by everything nested in it."""

    top: str
    allowance: int
    limit: str
    used: int = 0
    spent: bool = False

    @property
    def room(self) -> int:
        return self.allowance - self.used


def _display(path: Path) -> str:
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _printable(name: str) -> str:
    """A member name as text that can be written anywhere: undecodable bytes, which tarfile
    keeps as lone surrogates, become backslash escapes as for names on disk."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


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


_CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
)


def read_items(
    paths: Iterable[Path], limits: Limits | None = None, stats: ReadStats | None = None
) -> Iterator[Item]:
    """Every file under the paths and every archive member inside them, in a stable order,
    within `limits` for the whole walk; `stats` (if given) counts what was read and cut."""
    return _Reader(limits or Limits(), stats if stats is not None else ReadStats()).items(paths)


class _Reader:
    def __init__(self, limits: Limits, stats: ReadStats) -> None:
        self.limits = limits
        self.stats = stats
        self.bytes_spent = False

    def items(self, paths: Iterable[Path]) -> Iterator[Item]:
        walk = (item for root in paths for item in self._walk(root))
        try:
            for item in walk:
                if self.stats.records >= self.limits.max_records:
                    yield self._cut(
                        item.path,
                        "max_records",
                        f"the scan stopped at its limit of {self.limits.max_records:,} records:"
                        " this and everything after it was not read",
                    )
                    self.stats.records += 1
                    return
                self.stats.records += 1
                yield item
        finally:
            walk.close()

    def _cut(self, path: str, limit: str, reason: str, size: int | None = None) -> Item:
        self.stats.cut_short[limit] += 1
        flag = f"{LIMIT_FLAGS[limit]} {getattr(self.limits, limit)}"
        return Item(path, size=size, error=f"cut short: {reason} ({flag})", limit=limit)

    def _walk(self, root: Path) -> Iterator[Item]:
        for found in walk_files([root]):
            if found.error is not None:
                yield Item(_display(found.path), error=found.error)
            else:
                yield from self._file(found.path, found.size or 0)

    def _file(self, root: Path, size: int) -> Iterator[Item]:
        """A file on disk (marked when it is an archive), then the members inside it."""
        item = Item(_display(root), disk_path=root, size=size)
        if size == 0:
            yield item
            return
        try:
            handle = open_readonly(root)
        except OSError:
            yield item  # the hashing stage reports the failure for the item itself
            return
        with handle:
            try:
                kind = _archive_kind(handle.read(512), root.name)
                handle.seek(0)
            except OSError:
                kind = None
            item.archive = kind
            yield item
            if kind is None:
                return
            if size > self.limits.max_archive_bytes:
                yield self._cut(
                    f"{item.path}!",
                    "max_archive_bytes",
                    f"archive of {size:,} bytes, over the limit: members not read",
                )
                return
            by_ratio = self.limits.max_ratio * size
            tree = _Tree(
                item.path,
                min(by_ratio, self.limits.max_archive_bytes),
                "max_ratio" if by_ratio < self.limits.max_archive_bytes else "max_archive_bytes",
            )
            yield from self._archive(item.path, handle, kind, 1, tree)

    def _spent(self, tree: _Tree, need: int | None = None) -> str | None:
        """The limit that leaves no room for one more member of `need` bytes (None: the limit
        reached already, if any)."""
        if self.stats.archive_members >= self.limits.max_members:
            return "max_members"
        room = self.limits.max_expanded_bytes - self.stats.expanded_bytes
        if self.bytes_spent or (need is not None and need > room):
            self.bytes_spent = True
            return "max_expanded_bytes"
        if tree.spent or (need is not None and need + MEMBER_COST > tree.room):
            tree.spent = True
            return tree.limit
        return None

    def _overspent(self, tree: _Tree) -> str:
        """The budget a member larger than its header said has overrun."""
        if self.stats.expanded_bytes > self.limits.max_expanded_bytes:
            self.bytes_spent = True
            return "max_expanded_bytes"
        tree.spent = True
        return tree.limit

    def _charge(self, tree: _Tree, size: int) -> None:
        """One member (read or not: its record costs) and the `size` bytes it expanded to."""
        self.stats.archive_members += 1
        self.stats.expanded_bytes += size
        tree.used += size + MEMBER_COST

    def _stop(self, label: str, limit: str, tree: _Tree, started: bool) -> Item:
        """The one record of an archive a scan-wide or per-archive budget cut short."""
        rest = "the rest of this archive was not read" if started else "members not read"
        if limit == "max_members":
            what = f"the scan's limit of {self.limits.max_members:,} archive members was reached"
        elif limit == "max_expanded_bytes":
            bytes_limit = self.limits.max_expanded_bytes
            what = f"the scan's limit of {bytes_limit:,} expanded bytes was reached"
        else:
            times = f"{self.limits.max_ratio} times its size, " if limit == "max_ratio" else ""
            what = (
                f"{tree.top} may expand, at all depths together, to at most {times}"
                f"{tree.allowance:,} bytes (each member counting {MEMBER_COST:,} more than its"
                " size)"
            )
        return self._cut(f"{label}!", limit, f"{what}: {rest}")

    def _archive(
        self, label: str, source: IO[bytes], kind: str, depth: int, tree: _Tree
    ) -> Iterator[Item]:
        if depth > self.limits.max_depth:
            yield self._cut(
                f"{label}!",
                "max_depth",
                f"archive nested deeper than {self.limits.max_depth} levels: not opened",
            )
            return
        spent = self._spent(tree)
        if spent is not None:
            yield self._stop(label, spent, tree, started=False)
            return
        try:
            if kind == "zip":
                yield from self._zip_members(label, source, depth, tree)
            else:
                yield from self._tar_members(label, source, depth, tree)
        except _CORRUPT as exc:
            yield Item(f"{label}!", error=f"corrupt {kind} archive: {exc}")

    def _member(
        self, label: str, name: str, data: bytes, depth: int, tree: _Tree
    ) -> Iterator[Item]:
        self.stats.deepest = max(self.stats.deepest, depth)
        kind = _archive_kind(data[:512], name)
        item = Item(f"{label}!{_printable(name)}", data=data, size=len(data), archive=kind)
        if _unsafe_member_name(name):
            item.notes.append(
                "unsafe member name (path traversal); hashed in memory, never extracted"
            )
        yield item
        if kind is not None:
            yield from self._archive(item.path, io.BytesIO(data), kind, depth + 1, tree)

    def _too_many(self, label: str, found: int | None) -> Item:
        limit = self.limits.max_archive_members
        counted = f"{found:,}" if found is not None else f"more than {limit:,}"
        return self._cut(
            f"{label}!",
            "max_archive_members",
            f"archive of {counted} members: the first {limit:,} were read, the rest not",
        )

    def _unreadable(self, where: str, info: zipfile.ZipInfo) -> Item | None:
        """The record of a zip member not to expand (encrypted, too large, a bomb), if it is."""
        if info.flag_bits & 0x1:
            return Item(where, error="encrypted archive member, cannot be read")
        if info.file_size > self.limits.max_member_bytes:
            return self._cut(
                where,
                "max_member_bytes",
                f"member of {info.file_size:,} bytes, over the limit: not read",
                info.file_size,
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > self.limits.max_ratio:
            return self._cut(
                where,
                "max_ratio",
                f"possible zip bomb: {info.file_size:,} bytes from "
                f"{info.compress_size:,} (ratio {ratio:.0f}), not expanded",
                info.file_size,
            )
        return None

    def _zip_members(
        self, label: str, source: IO[bytes], depth: int, tree: _Tree
    ) -> Iterator[Item]:
        limits = self.limits
        with zipfile.ZipFile(source) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            for number, info in enumerate(infos):
                if number >= limits.max_archive_members:
                    yield self._too_many(label, len(infos))
                    return
                spent = self._spent(tree, 0)
                if spent is not None:
                    yield self._stop(label, spent, tree, started=number > 0)
                    return
                where = f"{label}!{info.filename}"
                unreadable = self._unreadable(where, info)
                if unreadable is not None:  # skipped without expanding: it costs no bytes
                    self._charge(tree, 0)
                    yield unreadable
                    continue
                spent = self._spent(tree, info.file_size)
                if spent is not None:
                    yield self._stop(label, spent, tree, started=True)
                    return
                room = min(
                    limits.max_member_bytes,
                    limits.max_expanded_bytes - self.stats.expanded_bytes,
                    tree.room - MEMBER_COST,
                )
                try:
                    with archive.open(info) as member:
                        content = member.read(room + 1)
                except _CORRUPT as exc:
                    self._charge(tree, 0)
                    yield Item(where, error=f"corrupt archive member: {exc}")
                    continue
                self._charge(tree, len(content))
                if len(content) > limits.max_member_bytes:
                    yield self._cut(
                        where, "max_member_bytes", "member larger than its header says (zip bomb)"
                    )
                    continue
                if len(content) > room:  # the header understated it: a budget is overrun
                    yield self._stop(label, self._overspent(tree), tree, started=True)
                    return
                yield from self._member(label, info.filename, content, depth, tree)

    def _tar_members(
        self, label: str, source: IO[bytes], depth: int, tree: _Tree
    ) -> Iterator[Item]:
        limits = self.limits
        with tarfile.open(fileobj=source, mode="r:*") as archive:
            count = 0
            for info in archive:
                count += 1
                if count > limits.max_archive_members:
                    yield self._too_many(label, None)
                    return
                link = info.issym() or info.islnk()
                if not (info.isfile() or link):
                    continue  # folders, devices: no record
                # Passing over a member of a compressed tar decompresses it: even a member
                # too large to read costs its size.
                size = info.size if info.isfile() else 0
                spent = self._spent(tree, size)
                if spent is not None:
                    yield self._stop(label, spent, tree, started=count > 1)
                    return
                self._charge(tree, size)
                where = f"{label}!{_printable(info.name)}"
                if link:
                    yield Item(where, error="link inside archive, not followed")
                    continue
                if size > limits.max_member_bytes:
                    yield self._cut(
                        where,
                        "max_member_bytes",
                        f"member of {size:,} bytes, over the limit: not read",
                        size,
                    )
                    continue
                member = archive.extractfile(info)
                if member is None:
                    continue
                yield from self._member(label, info.name, member.read(), depth, tree)
