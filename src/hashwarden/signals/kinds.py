"""The kinds hashwarden knows itself: cryptographic digests, PDQ, vPDQ and the fingerprints it
stores but cannot compute. Plain classes: importing them loads nothing heavy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from hashwarden.errors import InvalidSignalError
from hashwarden.signals.base import HexDigestKind, OpaqueKind, SignalKind

__all__ = [
    "BUILTIN_KINDS",
    "MAX_VPDQ_FRAMES",
    "MD5",
    "OPAQUE_KINDS",
    "PDQ",
    "SHA1",
    "SHA256",
    "VPDQ",
    "VideoFrame",
    "parse_vpdq",
]


class MD5(HexDigestKind):
    name = "md5"
    description = "MD5 of the file's bytes"
    digits = 32


class SHA1(HexDigestKind):
    name = "sha1"
    description = "SHA-1 of the file's bytes"
    digits = 40


class SHA256(HexDigestKind):
    name = "sha256"
    description = "SHA-256 of the file's bytes"
    digits = 64


class PDQ(HexDigestKind):
    name = "pdq"
    description = "Meta's PDQ perceptual image hash, 256 bits; near duplicates within a distance"
    digits = 64
    exact = False


#: A vPDQ value holds at most this many frames.
MAX_VPDQ_FRAMES = 100_000
_PAIR = re.compile(r"^(\d{1,3}):([0-9a-f]{64})$")


@dataclass(frozen=True)
class VideoFrame:
    quality: int
    pdq: str


def parse_vpdq(value: str) -> list[VideoFrame]:
    """The frames of a vPDQ value; InvalidSignalError naming the first bad frame."""
    parts = value.strip().lower().split(",")
    if not value.strip() or len(parts) > MAX_VPDQ_FRAMES:
        raise InvalidSignalError(f"a vpdq value holds 1 to {MAX_VPDQ_FRAMES} frames")
    frames = []
    for number, part in enumerate(parts):
        found = _PAIR.match(part.strip())
        if not found or int(found.group(1)) > 100:
            raise InvalidSignalError(
                f"vpdq frame {number}: {part[:80]!r} is not 'quality:64 hex digits'"
            )
        frames.append(VideoFrame(int(found.group(1)), found.group(2)))
    return frames


class VPDQ(SignalKind):
    name = "vpdq"
    description = "vPDQ: PDQ of frames sampled once a second, `quality:pdq` pairs joined by ','"
    exact: ClassVar[bool] = False

    @classmethod
    def normalize(cls, value: str) -> str:
        return ",".join(f"{f.quality}:{f.pdq}" for f in parse_vpdq(value))

    @classmethod
    def examples(cls) -> list[str]:
        return ["100:" + "0" * 64, "90:" + "f" * 64 + ",80:" + "0123456789abcdef" * 4]


class PhotoDNA(OpaqueKind):
    name = "photodna"
    description = "Microsoft PhotoDNA (stored and matched exactly; not computed here)"


class NetClean(OpaqueKind):
    name = "netclean"
    description = "NetClean fingerprint (NCMEC list type NETCLEAN; stored, matched exactly)"


class Videntifier(OpaqueKind):
    name = "videntifier"
    description = "Videntifier video fingerprint (NCMEC list type VIDENTIFIER)"


class TmkPdqf(OpaqueKind):
    name = "tmk_pdqf"
    description = "TMK+PDQF video fingerprint (NCMEC list type TMK_PDQF)"


class SsvhPdna(OpaqueKind):
    name = "ssvh_pdna"
    description = "Scene-sensitive video hash, PhotoDNA (NCMEC list type SSVH_PDNA)"


class SsvhSaferHash(OpaqueKind):
    name = "ssvh_safer_hash"
    description = "Scene-sensitive video hash, Safer (NCMEC list type SSVH_SAFER_HASH)"


#: Fingerprints hashwarden cannot compute but stores, exports and matches exactly.
OPAQUE_KINDS: list[type[SignalKind]] = [
    PhotoDNA,
    NetClean,
    Videntifier,
    TmkPdqf,
    SsvhPdna,
    SsvhSaferHash,
]
BUILTIN_KINDS: list[type[SignalKind]] = [MD5, SHA1, SHA256, PDQ, VPDQ, *OPAQUE_KINDS]
