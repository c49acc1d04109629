"""Blocking for ISPs: a URL block list that leaves the curator only hashed, its exports to the
DNS resolvers (RPZ) and proxies ISPs run, the stop page, and anonymous counts.

See docs/blocking.md. Modules: `canonical` (Safe Browsing URL rules), `store` (the curator's
list), `hashed` (signed hashed list, deltas, the fast `Matcher`), `rpz` (zone export).
"""

from hashwarden.blocking.canonical import (
    CanonicalUrl,
    canonicalize,
    digest,
    domain_expression,
    lookup_expressions,
    prefix_expression,
    url_expression,
)
from hashwarden.blocking.hashed import AppliedList, Hit, Matcher, apply_update, build_update
from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone
from hashwarden.blocking.store import BlockEntry, BlockList

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
