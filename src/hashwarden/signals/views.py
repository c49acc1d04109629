"""Views of a picture, and their PDQ: what lets a cropped or captioned copy still match.

PDQ is global: a crop of 2% on every side rescales the whole picture and moves its hash past
31 bits; a caption over the bottom twelfth replaces a block of it. A *view* is the picture
less a share of each side, named by what it cuts: the centre crops "c3" (3% off every side),
one-sided crops "L4" (4% off the left; R, T, B likewise), the picture without its bottom or
top strip "-B12" / "-T12" (a twelfth of the height; "-B4", "-T4" a quarter), and composites
"c3-B12" (the centre crop, then without the bottom twelfth of what is left) or "L7-B4" (7% off
the left, then without the bottom quarter of what is left: a one-sided crop plus a corner logo).

An entry banked from a file keeps the PDQ of `BANK_VIEWS`; a query hashes `QUERY_VIEWS`. A
copy cropped by f meets the banked view cropped by f; a query cropped q more meets the banked
view cropped f + q, so the two ladders multiply (3, 6, 9% banked with the query's 1, 2% cover
each 1% step; a view without a quarter tolerates about 2% either way, so "L7-B4" with the
query's "-B4" and "L3-B4" covers one-sided crops of 2-9% plus a logo). A view is only compared with views of its own kind (`comparable`), and only
views of PDQ quality >= `VIEW_MIN_QUALITY` are kept. The design and its measurements ("D2
split ladder", with the one-sided crops less a quarter of "D11"): docs/bench/pdq_recall_real.md.

`ViewHasher` computes the luminance once for all the views of a picture; each view is then
two small weighted sums (PDQ's blur is linear and separable and only 64 x 64 of its outputs
are kept), bit for bit the result of pdqhash on the view's pixels.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where views are hashed: naming views and pairing them need none
    import numpy as np

__all__ = [
    "BANK_VIEWS",
    "FULL",
    "QUERY_VIEWS",
    "VIEW_MIN_QUALITY",
    "View",
    "ViewHasher",
    "comparable",
    "family",
    "hash_views",
    "view",
]

#: The whole picture, as a banked hash compared with views (the entry's own PDQ).
FULL = "full"
#: Views banked with an entry added from a file (26, besides its full PDQ). New views are
#: appended: the saved view index numbers views by their place here.
BANK_VIEWS = (
    "c3",
    "c6",
    "c9",
    "L4",
    "L8",
    "R4",
    "R8",
    "T4",
    "T8",
    "B4",
    "B8",
    "-B12",
    "-T12",
    "-B4",
    "-T4",
    "c3-B12",
    "c6-B12",
    "c9-B12",
    # A one-sided crop together with a corner logo: 7% off one side, then without the
    # bottom or top quarter of what is left (met by the query's "-B4" and "L3-B4" ...).
    "L7-B4",
    "L7-T4",
    "R7-B4",
    "R7-T4",
    "T7-B4",
    "T7-T4",
    "B7-B4",
    "B7-T4",
)
#: Views hashed of a query (20), besides its full PDQ and turned and trimmed variants.
QUERY_VIEWS = (
    "c1",
    "c2",
    "L2",
    "R2",
    "T2",
    "B2",
    "-B12",
    "-T12",
    "-B4",
    "-T4",
    "c1-B12",
    "c2-B12",
    "L3-B4",
    "L3-T4",
    "R3-B4",
    "R3-T4",
    "T3-B4",
    "T3-T4",
    "B3-B4",
    "B3-T4",
)
#: Views (banked or queried) of lower PDQ quality are dropped, as low-quality PDQ never
#: near-matches on its own.
VIEW_MIN_QUALITY = 50


@dataclass(frozen=True)
class View:
    """Shares of the width (left, right) and height (top, bottom) a view cuts off."""

    name: str
    left: float = 0.0
    top: float = 0.0
    right: float = 0.0
    bottom: float = 0.0


@functools.cache
def view(name: str) -> View:
    """The view a name describes: "full", "c3", "L4", "-B12", "c3-B12"; ValueError otherwise."""
    if name == FULL:
        return View(name)
    base, _, strip = name.partition("-")
    try:
        left = top = right = bottom = 0.0
        if base:
            share = float(base[1:]) / 100
            if base[0] == "c":
                left = top = right = bottom = share
            elif base[0] in "LTRB":
                left, top, right, bottom = (share * (base[0] == s) for s in "LTRB")
            else:
                raise ValueError(base)
        if strip:
            if strip[0] not in "BT":
                raise ValueError(strip)
            # The strip is a share of what the crop above left.
            cut = (1 - top - bottom) / float(strip[1:])
            if strip[0] == "B":
                bottom += cut
            else:
                top += cut
    except (ValueError, IndexError, ZeroDivisionError) as exc:
        raise ValueError(f"not a view name: {name!r}") from exc
    if not (0 <= left + right < 0.5 and 0 <= top + bottom < 0.5):
        raise ValueError(f"not a view name: {name!r} (cuts too much)")
    return View(name, left, top, right, bottom)


def family(name: str) -> tuple[str, str]:
    """(crop letter, strip) of a view: "c3-B12" is ("c", "B12"), "-B12" ("", "B12"), "full"
    ("", "")."""
    base, _, strip = name.partition("-")
    return ("" if base == FULL else base[:1]), strip


def comparable(query_view: str, banked_view: str) -> bool:
    """Whether a query's view is compared with a banked view: the same strip, and the same
    kind of crop unless one of them has none ("c1" meets "full", "c3", "c6"; "L2" meets "full",
    "L4", "L8"; "-B12" meets "-B12" and "c3-B12"; "c1" never meets "L4" or "-B12"). The
    query's whole picture (and its turns and trims) meets every banked view."""
    if query_view == FULL:
        return True
    (q_letter, q_strip), (b_letter, b_strip) = family(query_view), family(banked_view)
    return q_strip == b_strip and (not q_letter or not b_letter or q_letter == b_letter)


@functools.lru_cache(maxsize=4096)
def _axis_weights(length: int) -> tuple[np.ndarray, np.ndarray]:
    """PDQ's blur-and-decimate along an axis of this length, as weights: 64 samples, a box of
    (length + 127) // 128 applied twice."""
    import numpy as np

    samples = (((np.arange(64) + 0.5) * length) / 64).astype(int)
    return _box_then_box(length, (length + 127) // 128, samples)


def _box_then_box(length: int, window: int, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PDQ's two passes of its box filter along one axis, then its decimation, as
    (indices (64, span), weights (64, span)): sample i = sum(weights[i] * x[indices[i]]).

    The box is the reference's box1DFloat: output o averages inputs o - (w - h) .. o + h - 1,
    h = (w + 2) // 2, clipped to the vector (so fewer inputs near its ends)."""
    import numpy as np

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


@functools.cache
def _dct_matrix() -> np.ndarray:
    """PDQ's 16 x 64 DCT matrix."""
    import numpy as np

    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    return np.sqrt(2 / 64) * np.cos(np.pi / 2 / 64 * i * (2 * j + 1))


class ViewHasher:
    """PDQ of many views of one picture (RGB pixels, as hashing decoded them), sharing the
    work: the luminance once, then two small weighted sums a view."""

    def __init__(self, pixels: np.ndarray) -> None:
        import numpy as np

        # Channel by channel: no float copy of the whole RGB array.
        luma = pixels[:, :, 0] * 0.299
        luma += pixels[:, :, 1] * 0.587
        luma += pixels[:, :, 2] * 0.114
        self.luma = luma.astype(np.float32).astype(np.float64)  # pdqhash's float32 luminance

    def bounds(self, name: str) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixel bounds of the named view."""
        height, width = self.luma.shape
        v = view(name)
        top, bottom = round(v.top * height), height - round(v.bottom * height)
        left, right = round(v.left * width), width - round(v.right * width)
        return top, bottom, left, right

    def hash(self, name: str) -> tuple[str, int]:
        """(hex, quality) of the named view's PDQ."""
        top, bottom, left, right = self.bounds(name)
        import numpy as np

        part = self.luma[top:bottom, left:right]
        row_index, row_w = _axis_weights(part.shape[0])
        col_index, col_w = _axis_weights(part.shape[1])
        # One tap of the filter at a time: small gathers that stay in cache.
        by_rows = np.zeros((64, part.shape[1]))
        for tap in range(row_index.shape[1]):
            by_rows += row_w[:, tap, None] * part[row_index[:, tap]]
        small64 = np.zeros((64, 64))
        for tap in range(col_index.shape[1]):
            small64 += col_w[None, :, tap] * by_rows[:, col_index[:, tap]]
        small = small64.astype(np.float32)
        return _bits_hex(small), _quality(small)


def _quality(small: np.ndarray) -> int:
    import numpy as np

    down = np.trunc((small[:-1, :] - small[1:, :]) * np.float32(100) / np.float32(255))
    across = np.trunc((small[:, :-1] - small[:, 1:]) * np.float32(100) / np.float32(255))
    return min(100, int(np.abs(down).sum() + np.abs(across).sum()) // 90)


def _bits_hex(small: np.ndarray) -> str:
    import numpy as np

    dct = _dct_matrix()
    coefficients = dct @ small.astype(np.float64) @ dct.T  # (16, 16)
    flat = coefficients.ravel()
    median = np.sort(flat)[127]  # the reference's torben: the lower median
    bits = (flat > median)[::-1]  # bit k of the hash is coefficient 255 - k, as pdqhash reads
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hash_views(pixels: np.ndarray, names: Iterable[str]) -> dict[str, str]:
    """PDQ of each named view of the pixels whose quality is at least VIEW_MIN_QUALITY (the
    others are left out), as hex by view name. Pictures too small for PDQ to mean anything
    (under 64 pixels a side) have no views."""
    if min(pixels.shape[:2]) < 64:
        return {}
    hasher = ViewHasher(pixels)
    found: dict[str, str] = {}
    for name in names:
        value, quality = hasher.hash(name)
        if quality >= VIEW_MIN_QUALITY:
            found[name] = value
    return found
