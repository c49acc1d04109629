"""The P2P identifiers as a built-in plugin: their kinds, and the hasher that computes them in
the same single read as the other digests (registered in `DEFAULT_PLUGINS`, plugins.py)."""

from __future__ import annotations

from hashwarden.hookspecs import hookimpl
from hashwarden.p2p.identifiers import P2PHasher
from hashwarden.p2p.kinds import P2P_KINDS
from hashwarden.signals.base import Hasher, SignalKind

__all__ = ["P2P_HASHER"]

#: ed2k and tth always; btih, btmh and bt_root when the file's name and size are known.
P2P_HASHER = Hasher("p2p", tuple(k.name for k in P2P_KINDS), P2PHasher)


@hookimpl
def hashwarden_signal_kinds() -> list[type[SignalKind]]:
    return list(P2P_KINDS)


@hookimpl
def hashwarden_hashers() -> list[Hasher]:
    return [P2P_HASHER]
