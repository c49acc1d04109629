"""The hooks a hashwarden plugin may implement. Each is documented in docs/plugins.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # names for the type checker only: plugins.py imports this module at run time
    from hashwarden.signals.base import Hasher, SignalKind

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("hashwarden")
hookimpl = pluggy.HookimplMarker("hashwarden")


@hookspec
def hashwarden_signal_kinds() -> list[type[SignalKind]]:  # type: ignore[empty-body]
    """Signal kinds the plugin adds (names must not clash with any other kind)."""


@hookspec
def hashwarden_hashers() -> list[Hasher]:  # type: ignore[empty-body]
    """Hashers the plugin adds: each computes some registered kinds from content's bytes."""
