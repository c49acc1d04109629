"""The kinds hashwarden computes itself: cryptographic digests and PDQ."""

from __future__ import annotations

from hashwarden.signals.base import HexDigestKind, SignalRegistry

__all__ = ["MD5", "PDQ", "SHA1", "SHA256", "default_registry"]


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


_DEFAULT: SignalRegistry | None = None


def default_registry() -> SignalRegistry:
    """The process-wide registry with the built-in kinds (built on first use, not at import)."""
    global _DEFAULT
    if _DEFAULT is None:
        registry = SignalRegistry()
        for kind in (MD5, SHA1, SHA256, PDQ):
            registry.register(kind)
        _DEFAULT = registry
    return _DEFAULT
