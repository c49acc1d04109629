"""The built-in signal kinds, registered as a plain plugin (`DEFAULT_PLUGINS` in plugins.py)."""

from __future__ import annotations

from hashwarden.hookspecs import hookimpl
from hashwarden.signals.base import SignalKind
from hashwarden.signals.kinds import BUILTIN_KINDS, MD5, PDQ, SHA1, SHA256

# Where the registry was built before it had a module of its own; importers may still look here.
from hashwarden.signals.registry import default_registry, reset_default_registry

__all__ = ["MD5", "PDQ", "SHA1", "SHA256", "default_registry", "reset_default_registry"]


@hookimpl
def hashwarden_signal_kinds() -> list[type[SignalKind]]:
    return list(BUILTIN_KINDS)
