"""Signal kinds and the hashing of content into them."""

from hashwarden.signals.base import HexDigestKind, OpaqueKind, Signal, SignalKind, SignalRegistry
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes, hash_bytes, hash_file, hash_stream

__all__ = [
    "ContentHashes",
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
