"""Plugins add signal kinds through the same hooks the built-ins use; every hook is documented."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from hashwarden import hookspecs
from hashwarden.errors import UsageError
from hashwarden.hookspecs import hookimpl
from hashwarden.plugins import plugin_manager, reset_plugin_manager
from hashwarden.signals import HexDigestKind, OpaqueKind, default_registry


class Crc32(HexDigestKind):
    name = "crc32"
    digits = 8


class FakeMd5(OpaqueKind):
    name = "md5"


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def _plugin(*kinds: type) -> SimpleNamespace:
    @hookimpl
    def hashwarden_signal_kinds() -> list[type]:
        return list(kinds)

    return SimpleNamespace(hashwarden_signal_kinds=hashwarden_signal_kinds)


def test_builtins_come_through_the_hook(fresh_plugins: None) -> None:
    assert {"md5", "sha1", "sha256", "pdq"} <= set(default_registry().names())


def test_a_plugin_adds_a_kind(fresh_plugins: None) -> None:
    plugin_manager().register(_plugin(Crc32))
    registry = default_registry()
    assert registry.signal("crc32", "DEADBEEF").value == "deadbeef"
    assert registry.hex_kinds_of_length(8) == ["crc32"]


def test_a_clashing_kind_is_refused(fresh_plugins: None) -> None:
    plugin_manager().register(_plugin(FakeMd5))
    with pytest.raises(UsageError, match="registered twice"):
        default_registry()


def test_every_hook_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    hooks = [
        n
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if n.startswith("hashwarden_")
    ]
    assert hooks
    for name in hooks:
        assert f"`{name}" in doc, f"{name} is not documented in docs/plugins.md"
