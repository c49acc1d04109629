"""What a signal kind is: a name, how its values are written, and whether it matches by distance.

A kind knows nothing about hashing content or indexing; hashing lives in `hashing`, indexes in
`hashwarden.index`. New kinds (vPDQ, P2P identifiers, fingerprints we cannot compute) register
here so every store, format and matcher sees them; a `Hasher` registers the same way to compute
kinds beyond the built-in digests (the P2P identifiers) in the single read of the content.

This module imports nothing of hashwarden but its errors, so any package may name kinds.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hashwarden.errors import InvalidSignalError, UsageError

__all__ = [
    "Hasher",
    "HexDigestKind",
    "OpaqueKind",
    "Signal",
    "SignalKind",
    "SignalRegistry",
    "StartHasher",
    "StreamHasher",
]

_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, order=True)
class Signal:
    """One fingerprint: a kind name and its canonical value."""

    kind: str
    value: str


class SignalKind(ABC):
    """A kind of fingerprint. Subclasses set `name` and implement `normalize`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: True when only equal values match; False for distance-matched kinds such as PDQ.
    exact: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def normalize(cls, value: str) -> str:
        """Return the canonical spelling of `value`, or raise InvalidSignalError."""

    @classmethod
    def examples(cls) -> list[str]:
        """Valid values, for tests and documentation."""
        return []

    @classmethod
    def signal(cls, value: str) -> Signal:
        return Signal(cls.name, cls.normalize(value))


class HexDigestKind(SignalKind):
    """A fixed-length hexadecimal digest, stored in lower case."""

    digits: ClassVar[int]
    #: Whether a bare value of this length may be taken for this kind in a plain list
    #: (False for kinds that share a common length but are rarely listed bare, e.g. ed2k).
    detect_by_length: ClassVar[bool] = True

    @classmethod
    def normalize(cls, value: str) -> str:
        text = value.strip().lower()
        if len(text) != cls.digits or not _HEX.match(text):
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise InvalidSignalError(
                f"{shown!r} is not a {cls.name} value ({cls.digits} hexadecimal digits)"
            )
        return text

    @classmethod
    def examples(cls) -> list[str]:
        return ["0" * cls.digits, "0123456789abcdef" * (cls.digits // 16) + "f" * (cls.digits % 16)]


class OpaqueKind(SignalKind):
    """A fingerprint hashwarden stores and matches exactly but cannot compute (e.g. PhotoDNA)."""

    max_length: ClassVar[int] = 4096

    @classmethod
    def normalize(cls, value: str) -> str:
        text = value.strip()
        if not text or len(text) > cls.max_length or any(c.isspace() for c in text):
            raise InvalidSignalError(f"{value[:80]!r} is not a valid {cls.name} value")
        return text

    @classmethod
    def examples(cls) -> list[str]:
        return ["AAAA", "x" * 16]


class StreamHasher(Protocol):
    """Fed one piece of content's bytes in order, once; then gives its values by kind name."""

    def update(self, chunk: bytes) -> None: ...

    def result(self) -> dict[str, str]: ...


class StartHasher(Protocol):
    """Starts a `StreamHasher` for one piece of content: its size and file name when known (a
    BitTorrent info-hash needs both, so a hasher may leave a kind out without them)."""

    def __call__(self, *, size: int | None, name: str | None) -> StreamHasher: ...


@dataclass(frozen=True)
class Hasher:
    """Computes `kinds` from content's bytes, fed from the same read as the built-in digests
    (in a thread of its own for large files: update should release the GIL where it can)."""

    name: str
    kinds: tuple[str, ...]
    start: StartHasher


class SignalRegistry:
    """The kinds and hashers known to this process; refuses two kinds of one name, and two
    hashers of one kind."""

    def __init__(self) -> None:
        self._kinds: dict[str, type[SignalKind]] = {}
        self._hashers: dict[str, Hasher] = {}

    def register(self, kind: type[SignalKind]) -> type[SignalKind]:
        if kind.name in self._kinds and self._kinds[kind.name] is not kind:
            raise UsageError(f"signal kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> type[SignalKind]:
        try:
            return self._kinds[name.strip().lower()]
        except KeyError:
            known = ", ".join(sorted(self._kinds))
            raise UsageError(f"unknown signal kind {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def signal(self, kind: str, value: str) -> Signal:
        return self.get(kind).signal(value)

    def register_hasher(self, hasher: Hasher) -> Hasher:
        """Add a hasher of registered kinds (register the kinds first)."""
        if hasher.name in self._hashers and self._hashers[hasher.name] != hasher:
            raise UsageError(f"hasher {hasher.name!r} is registered twice")
        for kind in hasher.kinds:
            self.get(kind)
            other = self.hasher_of(kind)
            if other is not None and other.name != hasher.name:
                raise UsageError(f"signal kind {kind!r} is computed by two hashers")
        self._hashers[hasher.name] = hasher
        return hasher

    def hasher(self, name: str) -> Hasher:
        try:
            return self._hashers[name]
        except KeyError:
            known = ", ".join(sorted(self._hashers)) or "none"
            raise UsageError(f"unknown hasher {name!r} (known: {known})") from None

    def hasher_of(self, kind: str) -> Hasher | None:
        """The registered hasher that computes `kind`, or None."""
        return next((h for h in self._hashers.values() if kind in h.kinds), None)

    def hashers_for(self, kinds: Iterable[str]) -> list[Hasher]:
        """The hashers that compute any of `kinds` (kinds no hasher computes are left out)."""
        wanted = set(kinds)
        return [h for _, h in sorted(self._hashers.items()) if wanted.intersection(h.kinds)]

    def computed_kinds(self) -> list[str]:
        """Every kind a registered hasher computes."""
        return sorted({k for h in self._hashers.values() for k in h.kinds})

    def hex_kinds_of_length(self, digits: int) -> list[str]:
        """Names of hex kinds whose values have `digits` digits (to detect a bare hash's kind)."""
        return sorted(
            k.name
            for k in self._kinds.values()
            if issubclass(k, HexDigestKind) and k.digits == digits and k.detect_by_length
        )
