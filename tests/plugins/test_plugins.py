"""Plugins add signal kinds through the same hooks the built-ins use; every hook is documented."""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from hashwarden import hookspecs
from hashwarden.errors import UsageError
from hashwarden.hookspecs import hookimpl
from hashwarden.plugins import plugin_manager, reset_plugin_manager
from hashwarden.signals import Hasher, HexDigestKind, OpaqueKind, default_registry, hash_bytes


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


class _Crc32Hasher:
    def __init__(self, *, size: int | None, name: str | None) -> None:
        self.value = 0

    def update(self, chunk: bytes) -> None:
        self.value = zlib.crc32(chunk, self.value)

    def result(self) -> dict[str, str]:
        return {"crc32": f"{self.value:08x}"}


def _hashers(*hashers: Hasher) -> SimpleNamespace:
    @hookimpl
    def hashwarden_hashers() -> list[Hasher]:
        return list(hashers)

    return SimpleNamespace(hashwarden_hashers=hashwarden_hashers)


def test_a_plugin_adds_a_hasher_fed_from_the_same_read(fresh_plugins: None) -> None:
    plugin_manager().register(_plugin(Crc32))
    plugin_manager().register(_hashers(Hasher("crc", ("crc32",), _Crc32Hasher)))
    data = b"benign bytes " * 100_000
    hashes = hash_bytes(data, extra_kinds=["crc32"])
    assert hashes.signals()["crc32"] == f"{zlib.crc32(data):08x}"
    assert "ed2k" not in hashes.signals()  # only the hashers of the kinds asked for
    assert default_registry().hasher_of("ed2k") is default_registry().hasher("rhash")


def test_the_p2p_identifiers_come_through_the_hook(fresh_plugins: None) -> None:
    registry = default_registry()
    assert registry.computed_kinds() == ["bt_root", "btih", "btmh", "ed2k", "tth"]
    assert registry.hasher("bittorrent").kinds == ("btih", "btmh", "bt_root")


@pytest.mark.parametrize(
    ("hasher", "message"),
    [
        (Hasher("crc", ("crc32",), _Crc32Hasher), "unknown signal kind 'crc32'"),
        (Hasher("other", ("ed2k",), _Crc32Hasher), "computed by two hashers"),
    ],
)
def test_a_hasher_of_an_unknown_or_taken_kind_is_refused(
    fresh_plugins: None, hasher: Hasher, message: str
) -> None:
    plugin_manager().register(_hashers(hasher))
    with pytest.raises(UsageError, match=message):
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
