"""Trimming uniform borders decides exactly as the float computation it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hashwarden.signals.hashing import _BORDER_MIN_FRACTION, _BORDER_STD, _trim_borders


def _float_trim(pixels: np.ndarray) -> np.ndarray | None:
    """The float computation `_trim_borders` had (the grey picture's mean, then the std of
    each row and column): the reference its decisions must keep."""
    grey = pixels.mean(axis=2)
    rows = grey.std(axis=1) >= _BORDER_STD
    cols = grey.std(axis=0) >= _BORDER_STD
    if not rows.any() or not cols.any():
        return None
    top, bottom = int(np.argmax(rows)), int(len(rows) - np.argmax(rows[::-1]))
    left, right = int(np.argmax(cols)), int(len(cols) - np.argmax(cols[::-1]))
    height, width = grey.shape
    trimmed = (top + height - bottom) / height + (left + width - right) / width
    if trimmed < _BORDER_MIN_FRACTION or bottom - top < 16 or right - left < 16:
        return None
    return np.ascontiguousarray(pixels[top:bottom, left:right])


def _same(pixels: np.ndarray) -> None:
    expected, found = _float_trim(pixels), _trim_borders(pixels)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert found.shape == expected.shape
        assert np.array_equal(found, expected)
        assert found.flags["C_CONTIGUOUS"]


@st.composite
def bordered(draw: st.DrawFn) -> np.ndarray:
    """A noisy or flat picture in a frame of uniform (or nearly uniform) lines, some of them
    varying right at the threshold."""
    height = draw(st.integers(16, 90))
    width = draw(st.integers(16, 90))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    spread = draw(st.sampled_from([0, 1, 3, 4, 5, 12, 60, 128]))
    base = draw(st.integers(0, 255))
    low, high = max(0, base - spread), min(255, base + spread)
    pixels = rng.integers(low, high + 1, size=(height, width, 3), dtype=np.uint8)
    for side in ("top", "bottom", "left", "right"):
        depth = draw(st.integers(0, 12))
        kind = draw(st.sampled_from(["flat", "threshold", "near", "noise"]))
        value = draw(st.integers(4, 251))
        lines = pixels[:depth] if side == "top" else pixels[height - depth :]
        if side in ("left", "right"):
            lines = pixels[:, :depth] if side == "left" else pixels[:, width - depth :]
        if kind == "flat":
            lines[...] = value
        elif kind in ("threshold", "near"):
            # grey alternating value -4, value +4: a standard deviation of exactly 4 along
            # rows (and columns), one step off it for "near"
            pattern = np.indices(lines.shape[:2]).sum(axis=0) % 2
            grey = np.where(pattern == 1, value + 4, value - 4)
            lines[...] = grey[..., None].astype(np.uint8)
            if kind == "near" and lines.size:
                lines[0, 0, draw(st.integers(0, 2))] ^= 1
    return pixels


@settings(max_examples=400, deadline=None)
@given(bordered())
def test_trimming_decides_as_the_float_computation(pixels: np.ndarray) -> None:
    _same(pixels)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(16, 64),
    st.integers(16, 64),
    st.integers(0, 2**32 - 1),
    st.sampled_from([(0, 0), (0, 1), (0, 2), (0, 255), (100, 112), (3, 10)]),
)
def test_any_picture_trims_as_the_float_computation(
    height: int, width: int, seed: int, bounds: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(bounds[0], bounds[1] + 1, (height, width, 3), dtype=np.uint8)
    _same(pixels)


def test_a_letterboxed_photo_is_trimmed_to_its_picture() -> None:
    rng = np.random.default_rng(7)
    pixels = np.zeros((120, 200, 3), dtype=np.uint8)
    pixels[20:100, 30:170] = rng.integers(0, 256, (80, 140, 3), dtype=np.uint8)
    found = _trim_borders(pixels)
    assert found is not None
    assert found.shape == (80, 140, 3)
    assert _trim_borders(pixels[20:100, 30:170]) is None  # nothing more to trim


def test_a_line_rounded_below_the_threshold_stays_a_border() -> None:
    # grey values alternating 2/3 and 26/3 vary by exactly 4 in exact arithmetic, and by
    # 3.9999999999999996 as the float computation rounds them: a border for it, so for us
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (64, 32, 3), dtype=np.uint8)
    line = np.zeros((32, 3), dtype=np.uint8)
    line[0::2] = (1, 1, 0)  # channel sum 2
    line[1::2] = (9, 9, 8)  # channel sum 26
    pixels[:8] = line
    expected = _float_trim(pixels)
    assert expected is not None and expected.shape == (56, 32, 3)
    _same(pixels)
