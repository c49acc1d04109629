"""The hooks a hashwarden plugin may implement. Each is documented in docs/plugins.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hashwarden.signals.base import SignalKind

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("hashwarden")
hookimpl = pluggy.HookimplMarker("hashwarden")


@hookspec
def hashwarden_signal_kinds() -> list[type[SignalKind]]:  # type: ignore[empty-body]
    """Signal kinds the plugin adds (names must not clash with any other kind)."""
