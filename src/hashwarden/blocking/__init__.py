"""Blocking for ISPs: a URL block list that leaves the curator only hashed, its exports to the
DNS resolvers (RPZ) and proxies ISPs run, the stop page, and anonymous counts.

See docs/blocking.md. Modules: `canonical` (Safe Browsing URL rules), `store` (the curator's
list), `hashed` (signed hashed list, deltas), `applied` (the ISP's copy, memory-mapped, and
the fast `Matcher`), `rpz` (zone export).

The names below are imported when first used, so that the look-ups an ISP runs (resolver
front, Squid helper) load only their own modules, not the signing and bank code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashwarden.blocking.applied import AppliedList, Hit, Matcher
    from hashwarden.blocking.canonical import (
        CanonicalUrl,
        canonicalize,
        digest,
        domain_expression,
        lookup_expressions,
        prefix_expression,
        url_expression,
    )
    from hashwarden.blocking.hashed import apply_update, build_update
    from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone
    from hashwarden.blocking.store import BlockEntry, BlockList

_MODULES = {
    "applied": ["AppliedList", "Hit", "Matcher"],
    "canonical": [
        "CanonicalUrl",
        "canonicalize",
        "digest",
        "domain_expression",
        "lookup_expressions",
        "prefix_expression",
        "url_expression",
    ],
    "hashed": ["apply_update", "build_update"],
    "rpz": ["RpzPolicy", "rpz_delta", "rpz_zone"],
    "store": ["BlockEntry", "BlockList"],
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "AppliedList",
    "BlockEntry",
    "BlockList",
    "CanonicalUrl",
    "Hit",
    "Matcher",
    "RpzPolicy",
    "apply_update",
    "build_update",
    "canonicalize",
    "digest",
    "domain_expression",
    "lookup_expressions",
    "prefix_expression",
    "rpz_delta",
    "rpz_zone",
    "url_expression",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
