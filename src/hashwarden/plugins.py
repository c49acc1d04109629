"""The plugin manager: built-ins and installed plugins, loaded on first use, never at import.

The built-ins are plain plugins named by module (imported when the manager is built), so this
module imports nothing of hashwarden but the hook specifications. Installed plugins announce
themselves in the `hashwarden` entry-point group. Setting HASHWARDEN_DISABLE_PLUGINS=1 loads the
built-ins only (for a clean-room run or to rule a plugin out); HASHWARDEN_TRACE_PLUGINS=1 prints
every hook call to standard error.
"""

from __future__ import annotations

import importlib
import os
import sys

import pluggy

from hashwarden import hookspecs

__all__ = ["DEFAULT_PLUGINS", "plugin_manager", "reset_plugin_manager"]

#: Modules of hashwarden itself that register exactly as an outside plugin would.
DEFAULT_PLUGINS = ["hashwarden.signals.builtin", "hashwarden.p2p.plugin"]

_MANAGER: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    global _MANAGER
    if _MANAGER is None:
        manager = pluggy.PluginManager("hashwarden")
        manager.add_hookspecs(hookspecs)
        for name in DEFAULT_PLUGINS:
            manager.register(importlib.import_module(name), name=name)
        if os.environ.get("HASHWARDEN_DISABLE_PLUGINS") != "1":
            manager.load_setuptools_entrypoints("hashwarden")
        if os.environ.get("HASHWARDEN_TRACE_PLUGINS") == "1":
            manager.trace.root.setwriter(lambda message: sys.stderr.write(message))
            manager.enable_tracing()
        _MANAGER = manager
    return _MANAGER


def reset_plugin_manager() -> None:
    """Forget the manager: the next use builds a new one, and everything built from the old
    one (the signal registry) is built again from it."""
    global _MANAGER
    _MANAGER = None
