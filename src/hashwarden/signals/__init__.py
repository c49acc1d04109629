"""Signal kinds and the hashing of content into them.

The kinds and the registry load nothing heavy; the hashing functions (numpy, Pillow, pdqhash)
are imported on first use, so naming a kind never pays for decoding images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hashwarden.signals.base import (
    Hasher,
    HexDigestKind,
    OpaqueKind,
    Signal,
    SignalKind,
    SignalRegistry,
)
from hashwarden.signals.registry import default_registry

if TYPE_CHECKING:
    from hashwarden.signals.hashing import ContentHashes, hash_bytes, hash_file, hash_stream

__all__ = [
    "ContentHashes",
    "Hasher",
    "HexDigestKind",
    "OpaqueKind",
    "Signal",
    "SignalKind",
    "SignalRegistry",
    "default_registry",
    "hash_bytes",
    "hash_file",
    "hash_stream",
]

_FROM_HASHING = {"ContentHashes", "hash_bytes", "hash_file", "hash_stream"}


def __getattr__(name: str) -> Any:
    """The hashing names, imported from `hashing` when first asked for."""
    if name in _FROM_HASHING:
        from hashwarden.signals import hashing

        return getattr(hashing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
