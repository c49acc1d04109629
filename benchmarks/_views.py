"""Prototype of view matching (issue 15), for the benchmark only: not hashwarden's code.

A *view* is a rectangle of a picture given by the share cut off each side: the centre crops
"c3" (3% off every side), one-sided crops "L4" (4% off the left; R, T, B likewise), the picture
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

import functools
import io
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from hashwarden.signals.hashing import FAST_MIN_SIDE

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


@dataclass(frozen=True)
class View:
    """Shares of the width (left, right) and height (top, bottom) cut off."""

    name: str
    left: float = 0.0
    top: float = 0.0
    right: float = 0.0
    bottom: float = 0.0


def view(name: str) -> View:
    """The view a name describes: "full", "c3", "L4", "-B12", "c3-B12", "c1.5"."""
    if name == "full":
        return View(name)
    left = top = right = bottom = 0.0
    base, _, strip = name.partition("-")
    if base.startswith("c"):
        share = float(base[1:]) / 100
        left = top = right = bottom = share
    elif base:
        share = float(base[1:]) / 100
        side = base[0]
        left, top, right, bottom = (share * (side == s) for s in "LTRB")
    if strip:
        # The strip is a share of what is left after the crop above.
        cut = 1 / float(strip[1:])
        kept = 1 - top - bottom
        if strip[0] == "B":
            bottom += kept * cut
        else:
            top += kept * cut
    return View(name, left, top, right, bottom)


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


@functools.lru_cache(maxsize=4096)
def _axis_weights(length: int) -> tuple[np.ndarray, np.ndarray]:
    """PDQ's blur-and-decimate along an axis of this length: 64 samples, window (n + 127) // 128."""
    samples = (((np.arange(64) + 0.5) * length) / 64).astype(int)
    return _box_then_box(length, (length + 127) // 128, samples)


def _box_then_box(length: int, window: int, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PDQ's two passes of its box filter along one axis, then its decimation, as weights:
    (indices (64, span), weights (64, span)): sample i = sum(weights[i] * x[indices[i]]).

    The box is the reference's box1DFloat: output o averages inputs o - (w - h) .. o + h - 1,
    h = (w + 2) // 2, clipped to the vector (so fewer inputs near its ends)."""
    half = (window + 2) // 2
    before, after = window - half, half - 1

    def count(at: np.ndarray) -> np.ndarray:
        return np.minimum(at + after, length - 1) - np.maximum(at - before, 0) + 1

    span = 2 * (before + after) + 1
    weights = np.zeros((len(samples), span))
    outer = 1 / count(samples)
    for d in range(-before, after + 1):
        middle = samples + d
        inside = (middle >= 0) & (middle < length)
        inner = np.where(inside, outer / count(np.clip(middle, 0, length - 1)), 0.0)
        for e in range(-before, after + 1):
            end = middle + e
            weights[:, d + e + 2 * before] += np.where((end >= 0) & (end < length), inner, 0.0)
    indices = np.clip(samples[:, None] - 2 * before + np.arange(span)[None, :], 0, length - 1)
    return indices, weights


def _dct_matrix() -> np.ndarray:
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    return np.sqrt(2 / 64) * np.cos(np.pi / 2 / 64 * i * (2 * j + 1))


_DCT = _dct_matrix()


class ViewHasher:
    """PDQ of many views of one picture, sharing the work: the luminance is computed once, and
    each view's blur-and-decimate is two small weighted sums (PDQ's filter is linear and
    separable, and only 64 x 64 of its outputs are kept). Matches pdqhash.compute to within a
    bit or two (float summation order), at a fraction of its time per view."""

    def __init__(self, pixels: np.ndarray) -> None:
        rgb = pixels.astype(np.float64)
        luma = rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114
        self.luma = luma.astype(np.float32).astype(np.float64)  # pdqhash's float32 luma

    def hash(self, name: str) -> tuple[str, int]:
        """(hex, quality) of the named view."""
        height, width = self.luma.shape
        v = view(name)
        top, bottom = round(v.top * height), height - round(v.bottom * height)
        left, right = round(v.left * width), width - round(v.right * width)
        part = self.luma[top:bottom, left:right]
        row_index, row_w = _axis_weights(part.shape[0])
        col_index, col_w = _axis_weights(part.shape[1])
        by_rows = np.einsum("is,isc->ic", row_w, part[row_index])  # (64, cols)
        small = np.einsum("js,ijs->ij", col_w, by_rows[:, col_index]).astype(np.float32)
        return _bits_hex(small), _quality(small)


def _quality(small: np.ndarray) -> int:
    down = np.trunc((small[:-1, :] - small[1:, :]) * np.float32(100) / np.float32(255))
    across = np.trunc((small[:, :-1] - small[:, 1:]) * np.float32(100) / np.float32(255))
    return min(100, int(np.abs(down).sum() + np.abs(across).sum()) // 90)


def _bits_hex(small: np.ndarray) -> str:
    coefficients = _DCT @ small.astype(np.float64) @ _DCT.T  # (16, 16)
    flat = coefficients.ravel()
    median = np.sort(flat)[127]  # the reference's torben: the lower median
    bits = (flat > median)[::-1]  # bit k of the hash is coefficient 255 - k, as pdqhash reads
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def largest_difference(pixels: np.ndarray, names: list[str]) -> int:
    """The largest distance between ViewHasher's and pdqhash's own PDQ of these views (and
    quality differences count as a distance too): 0 when ViewHasher is exact."""
    hasher = ViewHasher(pixels)
    height, width = pixels.shape[:2]
    worst = 0
    for name in names:
        v = view(name)
        top, bottom = round(v.top * height), height - round(v.bottom * height)
        left, right = round(v.left * width), width - round(v.right * width)
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


def _family(name: str) -> tuple[str, str]:
    """(crop letter, strip) of a view name: "c3-B12" is ("c", "B12"), "full" is ("", "")."""
    base, _, strip = name.partition("-")
    return ("" if base == "full" else base[:1]), strip


def allowed_pairs(design: Design, query_names: list[str], bank_names: list[str]) -> np.ndarray:
    """(query hashes, banked hashes) thresholds of the pairs a design compares (0: not
    compared). Query names that are not views (full, turns, trimmed) meet every banked hash."""
    mask = np.zeros((len(query_names), len(bank_names)), dtype=np.int16)
    for i, q in enumerate(query_names):
        for j, b in enumerate(bank_names):
            q_view, b_view = q in design.query, b in design.bank
            if design.pairing == "aligned" and q_view:
                (q_letter, q_strip), (b_letter, b_strip) = _family(q), _family(b)
                if q_strip != b_strip or (q_letter not in ("", b_letter) and b_letter):
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
