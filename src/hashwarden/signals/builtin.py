"""The kinds hashwarden computes itself: cryptographic digests and PDQ."""

from __future__ import annotations

from hashwarden.hookspecs import hookimpl
from hashwarden.signals.base import HexDigestKind, OpaqueKind, SignalKind, SignalRegistry
from hashwarden.signals.video import VPDQ

__all__ = ["MD5", "PDQ", "SHA1", "SHA256", "default_registry", "reset_default_registry"]


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
OPAQUE_KINDS = [PhotoDNA, NetClean, Videntifier, TmkPdqf, SsvhPdna, SsvhSaferHash]


@hookimpl
def hashwarden_signal_kinds() -> list[type[SignalKind]]:
    return [MD5, SHA1, SHA256, PDQ, VPDQ, *OPAQUE_KINDS]


_DEFAULT: SignalRegistry | None = None


def default_registry() -> SignalRegistry:
    """Every kind the built-ins and installed plugins provide (built on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        from hashwarden.plugins import plugin_manager

        registry = SignalRegistry()
        for kinds in plugin_manager().hook.hashwarden_signal_kinds():
            for kind in kinds:
                registry.register(kind)
        _DEFAULT = registry
    return _DEFAULT


def reset_default_registry() -> None:
    global _DEFAULT
    _DEFAULT = None
