"""The P2P identifiers as a built-in plugin: their kinds, and the hashers that compute them in
the same single read as the other digests (registered in `DEFAULT_PLUGINS`, plugins.py). Two
hashers, so that for a large file librhash and the BitTorrent pieces each have a thread."""

from __future__ import annotations

from hashwarden.hookspecs import hookimpl
from hashwarden.p2p.identifiers import RhashHasher, TorrentHasher
from hashwarden.p2p.kinds import P2P_KINDS
from hashwarden.signals.base import Hasher, SignalKind

__all__ = ["P2P_HASHERS"]

P2P_HASHERS = [
    Hasher("rhash", ("ed2k", "tth"), RhashHasher),
    #: Only for a file: a torrent names the file and declares its size.
    Hasher("bittorrent", ("btih", "btmh", "bt_root"), TorrentHasher),
]


@hookimpl
def hashwarden_signal_kinds() -> list[type[SignalKind]]:
    return list(P2P_KINDS)


@hookimpl
def hashwarden_hashers() -> list[Hasher]:
    return list(P2P_HASHERS)
