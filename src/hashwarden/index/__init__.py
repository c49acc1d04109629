"""Indexes that find banked signals: PDQ by Hamming distance, exact kinds by look-up.

The names are imported on first use: `hashwarden.index.small` matches a small bank without
numpy, which the indexes themselves need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashwarden.index.matcher import MIN_PDQ_QUALITY, BankMatcher, Match, MatchResult
    from hashwarden.index.pdq import PdqIndex, hex_to_words, pdq_distance
    from hashwarden.index.small import SmallBankMatcher, open_matcher

__all__ = [
    "MIN_PDQ_QUALITY",
    "BankMatcher",
    "Match",
    "MatchResult",
    "PdqIndex",
    "SmallBankMatcher",
    "hex_to_words",
    "open_matcher",
    "pdq_distance",
]

_HOMES = {
    "MIN_PDQ_QUALITY": "matcher",
    "BankMatcher": "matcher",
    "Match": "matcher",
    "MatchResult": "matcher",
    "PdqIndex": "pdq",
    "hex_to_words": "pdq",
    "pdq_distance": "pdq",
    "SmallBankMatcher": "small",
    "open_matcher": "small",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
