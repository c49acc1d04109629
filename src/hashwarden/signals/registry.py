"""The registry of every kind and hasher the built-ins and installed plugins provide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashwarden.signals.base import SignalRegistry

if TYPE_CHECKING:  # pluggy is loaded when the registry is first built, not by naming a kind
    import pluggy

__all__ = ["default_registry", "reset_default_registry"]

#: The registry, and the plugin manager it was built from (a new manager means a new registry).
_BUILT: tuple[pluggy.PluginManager, SignalRegistry] | None = None


def default_registry() -> SignalRegistry:
    """Every kind and hasher the plugins provide (built on first use, never at import)."""
    from hashwarden.plugins import plugin_manager

    global _BUILT
    manager = plugin_manager()
    if _BUILT is None or _BUILT[0] is not manager:
        registry = SignalRegistry()
        for kinds in manager.hook.hashwarden_signal_kinds():
            for kind in kinds:
                registry.register(kind)
        for hashers in manager.hook.hashwarden_hashers():
            for hasher in hashers:
                registry.register_hasher(hasher)
        _BUILT = (manager, registry)
    return _BUILT[1]


def reset_default_registry() -> None:
    """Build the registry again on next use (after registering a plugin on the manager)."""
    global _BUILT
    _BUILT = None
