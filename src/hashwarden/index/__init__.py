"""Indexes that find banked signals: PDQ by Hamming distance, exact kinds by look-up."""

from hashwarden.index.matcher import MIN_PDQ_QUALITY, BankMatcher, Match, MatchResult
from hashwarden.index.pdq import PdqIndex, hex_to_words, pdq_distance

__all__ = [
    "MIN_PDQ_QUALITY",
    "BankMatcher",
    "Match",
    "MatchResult",
    "PdqIndex",
    "hex_to_words",
    "pdq_distance",
]
