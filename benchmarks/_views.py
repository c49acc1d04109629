"""Designs of view matching (issue 15) measured side by side by the benchmark.

The views themselves and their exact PDQ are hashwarden's (hashwarden.signals.views, whose
BANK_VIEWS and QUERY_VIEWS are D2, the design chosen). A *view* is a rectangle of a picture
given by the share cut off each side: the centre crops "c3" (3% off every side), one-sided crops "L4" (4% off the left; R, T, B likewise), the picture
without its bottom or top strip "-B12" / "-T12" (1/12 of the height; "-B4", "-T4" for a
quarter), and composites "c3-B12" (the centre crop, then without its bottom twelfth). PDQ is
taken of the view's pixels, cut from the same fast-mode decode hashwarden hashes (JPEG draft,
shorter side reduced to no less than 512 pixels); `ViewHasher` gives pdqhash's exact result
while computing the luminance once for all the views of a picture.

A *design* says which views are banked with an entry, which are hashed of a query, which pairs
are compared, at what distance, and which guard must hold. `evaluate_pairs` applies a design to
distances already computed, so every design is measured on the same hashes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from hashwarden.signals.hashing import FAST_MIN_SIDE
from hashwarden.signals.views import View, ViewHasher, comparable, view

__all__ = [
    "Design",
    "View",
    "ViewHasher",
    "allowed_pairs",
    "decode_fast",
    "evaluate_pairs",
    "largest_difference",
    "view",
]


def decode_fast(data: bytes) -> np.ndarray:
    """RGB pixels as hashwarden's fast mode decodes them (JPEG draft, then reduce)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG":
            image.draft("RGB", (FAST_MIN_SIDE, FAST_MIN_SIDE))
        image.load()
        factor = min(image.size) // FAST_MIN_SIDE
        if factor >= 2:
            image = image.reduce(factor)
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return np.asarray(rgb)


def largest_difference(pixels: np.ndarray, names: list[str]) -> int:
    """The largest distance between ViewHasher's and pdqhash's own PDQ of these views (and
    quality differences count as a distance too): 0 when ViewHasher is exact."""
    hasher = ViewHasher(pixels)
    worst = 0
    for name in names:
        top, bottom, left, right = hasher.bounds(name)
        bits, quality = pdqhash.compute(np.ascontiguousarray(pixels[top:bottom, left:right]))
        exact = np.packbits(bits.astype(np.uint8)).tobytes().hex()
        ours, our_quality = hasher.hash(name)
        worst = max(worst, (int(exact, 16) ^ int(ours, 16)).bit_count(), abs(quality - our_quality))
    return worst


@dataclass(frozen=True)
class Design:
    """One way of matching with views.

    `bank` views are stored with each entry besides its full PDQ; `query` views are hashed of a
    query besides its full PDQ and today's turned and trimmed variants. `pairing` "all"
    compares every query hash with every banked hash; "aligned" compares the query's full
    hash and variants with every banked hash, and each query view only with banked views of
    the same strip ("-B12" with "-B12", "c1-B12" with "c3-B12", crops with crops). A pair that
    involves a view matches within `view_threshold`; full against full keeps 31. `guard`:
    "none"; "two" (two distinct banked views of the entry each match some query hash).
    """

    name: str
    bank: tuple[str, ...]
    query: tuple[str, ...]
    pairing: str = "aligned"
    view_threshold: int = 31
    guard: str = "none"


def allowed_pairs(design: Design, query_names: list[str], bank_names: list[str]) -> np.ndarray:
    """(query hashes, banked hashes) thresholds of the pairs a design compares (0: not
    compared). Query names that are not views (full, turns, trimmed) meet every banked hash."""
    mask = np.zeros((len(query_names), len(bank_names)), dtype=np.int16)
    for i, q in enumerate(query_names):
        for j, b in enumerate(bank_names):
            q_view, b_view = q in design.query, b in design.bank
            if design.pairing == "aligned" and q_view and not comparable(q, b):
                continue
            mask[i, j] = design.view_threshold if q_view or b_view else 31
    return mask


def evaluate_pairs(
    dist: np.ndarray, query_ok: np.ndarray, bank_ok: np.ndarray, mask: np.ndarray, guard: str
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (Q, M, E, K) between M hashes of Q queries and K hashes of E entries, with
    their usability (quality >= 50) and the pairs' thresholds (M, K; 0 = not compared):
    (matched (Q, E), nearest compared distance (Q, E))."""
    usable = query_ok[:, :, None, None] & bank_ok[None, None, :, :] & (mask[None, :, None, :] > 0)
    within = usable & (dist <= mask[None, :, None, :])
    best = np.where(usable, dist, np.int16(999)).min(axis=(1, 3))
    if guard == "two":
        banked_hit = within.any(axis=1)  # (Q, E, K): which banked hashes some query hash met
        matched = banked_hit[:, :, 0] | (banked_hit.sum(axis=-1) >= 2)
    else:
        matched = within.any(axis=(1, 3))
    return matched, best
