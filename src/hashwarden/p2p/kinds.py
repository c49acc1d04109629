"""P2P file identifiers as signal kinds: eDonkey, Tiger Tree Hash, BitTorrent v1 info-hash.

Gnutella's `urn:sha1` is the file's SHA-1 in base32: it is stored as the `sha1` kind and
converted where links are read.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import ClassVar

from hashwarden.errors import InvalidSignalError
from hashwarden.signals.base import HexDigestKind, SignalKind

__all__ = ["BTIH", "BTMH", "ED2K", "P2P_KINDS", "TTH", "BTRoot", "base32_to_hex"]

_BASE32 = re.compile(r"^[A-Z2-7]+=*$")


def base32_to_hex(text: str, *, nbytes: int) -> str | None:
    """Hex of a base32 value of `nbytes` bytes, or None if it is not one."""
    candidate = text.strip().upper()
    if not _BASE32.match(candidate):
        return None
    try:
        raw = base64.b32decode(candidate + "=" * (-len(candidate) % 8))
    except binascii.Error:
        return None
    return raw.hex() if len(raw) == nbytes else None


class ED2K(HexDigestKind):
    name = "ed2k"
    description = "eDonkey/eMule file hash: MD4 over 9,500 KiB chunks (as rhash computes it)"
    digits = 32
    detect_by_length = False  # a bare 32-digit hash in a list is an MD5


class BTIH(HexDigestKind):
    name = "btih"
    description = "BitTorrent v1 info-hash of a single-file torrent of the file (hex; base32 read)"
    digits = 40
    detect_by_length = False  # a bare 40-digit hash in a list is a SHA-1

    @classmethod
    def normalize(cls, value: str) -> str:
        converted = base32_to_hex(value, nbytes=20) if len(value.strip()) == 32 else None
        return super().normalize(converted or value)


class BTMH(HexDigestKind):
    name = "btmh"
    description = "BitTorrent v2 info-hash (SHA-256) of a single-file torrent of the file, hex"
    digits = 64
    detect_by_length = False

    @classmethod
    def normalize(cls, value: str) -> str:
        text = value.strip().lower()
        return super().normalize(text[4:] if len(text) == 68 and text.startswith("1220") else text)


class BTRoot(HexDigestKind):
    name = "bt_root"
    description = "BitTorrent v2 pieces root of the file (its SHA-256 merkle root), hex"
    digits = 64
    detect_by_length = False


class TTH(SignalKind):
    name = "tth"
    description = "Tiger Tree Hash (1024-byte leaves), base32 as DC++ and Gnutella write it"
    exact: ClassVar[bool] = True

    @classmethod
    def normalize(cls, value: str) -> str:
        text = value.strip().upper().rstrip("=")
        if len(text) != 39 or base32_to_hex(text, nbytes=24) is None:
            raise InvalidSignalError(f"{value[:80]!r} is not a tth value (39 base32 characters)")
        return text

    @classmethod
    def examples(cls) -> list[str]:
        return ["HGHPJWCDKPF6B6BRUZCBR4YBFJKBSSKHE4MG53I"]


#: Every P2P kind, in the order `hash --p2p` prints them.
P2P_KINDS: list[type[SignalKind]] = [ED2K, TTH, BTIH, BTMH, BTRoot]
