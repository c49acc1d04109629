"""Read what P2P investigators observe: magnet links, ed2k:// links, .torrent files, bare
identifiers; one `Observation` per item, a malformed one carrying its error, never raising."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from hashwarden.p2p.kinds import base32_to_hex

__all__ = [
    "MAX_TORRENT_BYTES",
    "BencodeError",
    "Observation",
    "decode_bencode",
    "read_observations",
]

MAX_TORRENT_BYTES = 16 * 1024 * 1024
_MAX_DEPTH = 64
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class BencodeError(ValueError):
    """Malformed or over-limit bencoded data."""


@dataclass
class Observation:
    source: str
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def add(self, kind: str, value: str) -> None:
        self.identifiers.setdefault(kind, [])
        if value not in self.identifiers[kind]:
            self.identifiers[kind].append(value)


def decode_bencode(data: bytes) -> tuple[object, bytes | None]:
    """(value, raw bytes of the top-level `info` dict or None); BencodeError when malformed."""
    if len(data) > MAX_TORRENT_BYTES:
        raise BencodeError(f"over {MAX_TORRENT_BYTES} bytes")
    info_span: list[bytes] = []

    def parse(pos: int, depth: int, top: bool) -> tuple[object, int]:
        if depth > _MAX_DEPTH:
            raise BencodeError("nested too deeply")
        if pos >= len(data):
            raise BencodeError("truncated")
        lead = data[pos : pos + 1]
        if lead == b"i":
            end = data.find(b"e", pos, pos + 70)
            if end < 0 or not re.fullmatch(rb"-?\d+", data[pos + 1 : end]):
                raise BencodeError(f"bad integer at byte {pos}")
            return int(data[pos + 1 : end]), end + 1
        if lead.isdigit():
            colon = data.find(b":", pos, pos + 12)
            if colon < 0 or not data[pos:colon].isdigit():
                raise BencodeError(f"bad string length at byte {pos}")
            length = int(data[pos:colon])
            if colon + 1 + length > len(data):
                raise BencodeError(f"string at byte {pos} runs past the end")
            return data[colon + 1 : colon + 1 + length], colon + 1 + length
        if lead in (b"l", b"d"):
            pos += 1
            items: list[object] = []
            result: dict[bytes, object] = {}
            while True:
                if pos >= len(data):
                    raise BencodeError("truncated")
                if data[pos : pos + 1] == b"e":
                    return (items if lead == b"l" else result), pos + 1
                if lead == b"l":
                    value, pos = parse(pos, depth + 1, False)
                    items.append(value)
                    continue
                key, pos = parse(pos, depth + 1, False)
                if not isinstance(key, bytes):
                    raise BencodeError(f"dictionary key at byte {pos} is not a string")
                start = pos
                value, pos = parse(pos, depth + 1, False)
                if top and key == b"info":
                    info_span.append(data[start:pos])
                result[key] = value
        raise BencodeError(f"unexpected byte {lead!r} at {pos}")

    value, end = parse(0, 0, True)
    if end != len(data):
        raise BencodeError(f"{len(data) - end} bytes after the end")
    return value, (info_span[0] if info_span else None)


def _magnet(text: str, obs: Observation) -> None:
    query = parse_qs(urlsplit(text).query)
    topics = query.get("xt", [])
    if not topics:
        raise ValueError("magnet link without xt")
    for topic in topics:
        urn = unquote(topic)
        lower = urn.lower()
        value = urn.rsplit(":", 1)[-1]
        if lower.startswith("urn:btih:"):
            hexed = (
                value.lower()
                if len(value) == 40 and _HEX.match(value)
                else (base32_to_hex(value, nbytes=20))
            )
            if hexed is None:
                raise ValueError(f"bad btih {value!r}")
            obs.add("btih", hexed)
        elif lower.startswith("urn:sha1:"):
            hexed = base32_to_hex(value, nbytes=20)
            if hexed is None:
                raise ValueError(f"bad urn:sha1 {value!r}")
            obs.add("sha1", hexed)
        elif (
            lower.startswith(("urn:ed2k:", "urn:ed2khash:"))
            and len(value) == 32
            and _HEX.match(value)
        ):
            obs.add("ed2k", value.lower())
        elif lower.startswith("urn:tree:tiger:") and base32_to_hex(value, nbytes=24):
            obs.add("tth", value.upper())
        elif lower.startswith("urn:bitprint:") and "." in value:
            sha1, tth = value.split(".", 1)
            if base32_to_hex(sha1, nbytes=20) and base32_to_hex(tth, nbytes=24):
                obs.add("sha1", base32_to_hex(sha1, nbytes=20) or "")
                obs.add("tth", tth.upper())
        elif lower.startswith("urn:btmh:"):
            hexed = value.lower()
            if len(hexed) != 68 or not hexed.startswith("1220") or not _HEX.match(hexed):
                raise ValueError(f"bad btmh {value!r} (expected a SHA-256 multihash, 1220...)")
            obs.add("btmh", hexed[4:])
        else:
            raise ValueError(f"unsupported or malformed topic {urn[:80]!r}")


def _bare(text: str, obs: Observation) -> None:
    value = text.strip()
    if _HEX.match(value) and len(value) == 32:
        obs.add("ed2k", value.lower())
        obs.add("md5", value.lower())
    elif _HEX.match(value) and len(value) == 40:
        obs.add("btih", value.lower())
        obs.add("sha1", value.lower())
    elif len(value) == 39 and base32_to_hex(value, nbytes=24):
        obs.add("tth", value.upper())
    elif len(value) == 32 and base32_to_hex(value, nbytes=20):
        obs.add("sha1", base32_to_hex(value, nbytes=20) or "")
        obs.add("btih", base32_to_hex(value, nbytes=20) or "")
    else:
        raise ValueError(f"not a P2P identifier: {value[:80]!r}")


def _line(text: str, source: str) -> Observation:
    obs = Observation(source)
    try:
        lowered = text.lower()
        if lowered.startswith("magnet:"):
            _magnet(text, obs)
        elif lowered.startswith("ed2k://"):
            parts = text.split("|")
            if (
                len(parts) < 5
                or parts[1].lower() != "file"
                or not _HEX.match(parts[4])
                or len(parts[4]) != 32
            ):
                raise ValueError("ed2k link is not ed2k://|file|name|size|hash|/")
            obs.add("ed2k", parts[4].lower())
        else:
            _bare(text, obs)
    except ValueError as exc:
        obs.error = str(exc)
    return obs


def _torrent(path: Path) -> Observation:
    obs = Observation(str(path))
    try:
        if path.stat().st_size > MAX_TORRENT_BYTES:
            raise BencodeError(f"over {MAX_TORRENT_BYTES} bytes")
        value, info = decode_bencode(path.read_bytes())
        meta = value.get(b"info") if isinstance(value, dict) else None
        if info is None or not isinstance(meta, dict):
            raise BencodeError("no info dictionary")
        if b"pieces" in meta:
            obs.add("btih", hashlib.sha1(info).hexdigest())
        if meta.get(b"meta version") == 2:
            obs.add("btmh", hashlib.sha256(info).hexdigest())
        _file_identifiers(meta, obs)
    except (BencodeError, OSError) as exc:
        obs.error = f"malformed torrent: {exc}"
    return obs


def _file_identifiers(meta: dict[bytes, object], obs: Observation) -> None:
    """Each file's own identifiers inside a torrent: v2 pieces roots (the whole file tree),
    and the optional per-file `sha1` (BEP 47) and `md5sum` of v1 file lists."""
    stack: list[object] = [meta.get(b"file tree", {})]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        leaf = node.get(b"")
        if isinstance(leaf, dict) and isinstance(leaf.get(b"pieces root"), bytes):
            obs.add("bt_root", leaf[b"pieces root"].hex())
        stack.extend(v for k, v in node.items() if k != b"")
    files = meta.get(b"files")
    for item in [meta, *(files if isinstance(files, list) else [])]:
        if not isinstance(item, dict):
            continue
        sha1, md5 = item.get(b"sha1"), item.get(b"md5sum")
        if isinstance(sha1, bytes) and len(sha1) == 20:
            obs.add("sha1", sha1.hex())
        if isinstance(md5, bytes) and len(md5) == 32 and _HEX.match(md5.decode("ascii", "replace")):
            obs.add("md5", md5.decode().lower())


def read_observations(path: Path) -> Iterator[Observation]:
    """Observations in a .torrent file, or one a line in a text log."""
    if path.suffix.lower() == ".torrent":
        yield _torrent(path)
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            for number, raw in enumerate(stream, start=1):
                text = raw.strip()
                if text and not text.startswith("#"):
                    yield _line(text, f"{path}:{number}")
    except OSError as exc:
        yield Observation(str(path), error=f"cannot read: {exc.strerror or exc}")
