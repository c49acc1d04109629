"""Views of a picture: named crops and strips, their exact PDQ, and which pairs are compared."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from hashwarden.index.saved import ViewIndex
from hashwarden.signals import hash_bytes
from hashwarden.signals.hashing import _decode_for_pdq
from hashwarden.signals.views import (
    BANK_VIEWS,
    QUERY_VIEWS,
    VIEW_MIN_QUALITY,
    ViewHasher,
    comparable,
    view,
)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(_decode_for_pdq(image, "fast"))


def test_view_hasher_is_pdqhash_on_the_views_pixels(conformance: Path) -> None:
    pixels = _pixels(conformance / "pdq" / "dih" / "bridge-1-original.jpg")
    hasher = ViewHasher(pixels)
    for name in (*BANK_VIEWS, *QUERY_VIEWS, "full"):
        top, bottom, left, right = hasher.bounds(name)
        bits, quality = pdqhash.compute(np.ascontiguousarray(pixels[top:bottom, left:right]))
        expected = np.packbits(bits.astype(np.uint8)).tobytes().hex()
        assert hasher.hash(name) == (expected, quality), name


def test_view_names_cut_what_they_say() -> None:
    assert view("c3").left == view("c3").bottom == pytest.approx(0.03)
    assert (view("L4").left, view("L4").right, view("L4").top) == (0.04, 0.0, 0.0)
    assert view("-B12").bottom == pytest.approx(1 / 12)
    # The strip is a twelfth of what the centre crop left.
    assert view("c6-B12").bottom == pytest.approx(0.06 + 0.88 / 12)
    assert view("-T4").top == pytest.approx(0.25)
    # A one-sided crop, then without the bottom quarter of what is left.
    assert (view("T7-B4").top, view("T7-B4").bottom) == pytest.approx((0.07, 0.93 / 4))
    assert (view("L7-B4").left, view("L7-B4").bottom) == pytest.approx((0.07, 0.25))


@pytest.mark.parametrize("name", ["x3", "c", "c3-X12", "c30", "-B1", "L60", "c3-B0"])
def test_bad_view_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a view name"):
        view(name)


def test_views_meet_only_views_of_their_kind() -> None:
    assert comparable("c1", "c3") and comparable("c1", "full")
    assert comparable("L2", "L8") and not comparable("L2", "R4") and not comparable("L2", "c3")
    assert comparable("-B12", "c6-B12") and comparable("c2-B12", "-B12")
    assert not comparable("c1", "-B12") and not comparable("-B12", "-T12")
    assert not comparable("-B12", "full") and not comparable("c1-B12", "c3")
    assert all(comparable("full", b) for b in BANK_VIEWS)
    assert comparable("-B4", "L7-B4") and comparable("L3-B4", "L7-B4")
    assert not comparable("L3-B4", "R7-B4") and not comparable("-T4", "L7-B4")


def test_every_banked_view_has_a_code_in_the_saved_view_index() -> None:
    # The saved index numbers a row entry * 32 + the view's place: at most 32 names, in order.
    names = ViewIndex.NAMES
    assert names == ("full", *BANK_VIEWS)
    assert len(names) <= ViewIndex._SPAN
    assert len(set(BANK_VIEWS)) == len(BANK_VIEWS)


def test_hashing_gives_the_views_asked_for(conformance: Path) -> None:
    data = (conformance / "pdq" / "dih" / "bridge-1-original.jpg").read_bytes()
    banked = hash_bytes(data, views=BANK_VIEWS)
    assert set(banked.pdq_views) == set(BANK_VIEWS)
    assert hash_bytes(data).pdq_views == {}
    query = hash_bytes(data, variants=True, views=QUERY_VIEWS)
    assert set(query.pdq_views) == set(QUERY_VIEWS)
    assert query.pdq_variants  # views come on top of the turns, not instead


def test_featureless_images_have_no_views(conformance: Path) -> None:
    data = (conformance / "pdq" / "misc" / "small.jpg").read_bytes()
    hashes = hash_bytes(data, views=BANK_VIEWS)
    assert (hashes.pdq_quality or 0) < VIEW_MIN_QUALITY
    assert hashes.pdq_views == {}
    flat = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 120, 120)).save(flat, "PNG")
    assert hash_bytes(flat.getvalue(), views=BANK_VIEWS).pdq_views == {}
