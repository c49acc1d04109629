"""A photograph banked from its file is found after the edits copies really get (crops on
every side or one, a caption banner, a "shared via" strip, a corner logo, and edits combined),
through the views banked with it; an unrelated photograph is not; entries banked from hashes
alone match as they always did."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.index import BankMatcher
from hashwarden.index._matching import Matcher
from hashwarden.index.saved import keep_index_current
from hashwarden.index.small import SmallBankMatcher
from hashwarden.signals import ContentHashes, Signal, hash_bytes
from hashwarden.signals.views import BANK_VIEWS, QUERY_VIEWS
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

Edit = Callable[[Image.Image], Image.Image]


def _crop(left: float, top: float, right: float, bottom: float) -> Edit:
    def edit(im: Image.Image) -> Image.Image:
        w, h = im.size
        box = (round(left * w), round(top * h), w - round(right * w), h - round(bottom * h))
        return im.crop(box)

    return edit


def _banner(im: Image.Image) -> Image.Image:
    """A near-black caption over the bottom twelfth, half the width."""
    out = im.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.rectangle((w // 4, h - h // 12, w // 4 + w // 2, h), fill=(12, 12, 12))
    draw.text((w // 4 + 10, h - h // 14), "when the weekend finally arrives", fill="white")
    return out


def _strip(im: Image.Image) -> Image.Image:
    """A full-width "shared via" strip over the top 6% of the height."""
    out = im.copy()
    w, h = out.size
    ImageDraw.Draw(out).rectangle((0, 0, w, round(h * 0.06)), fill=(24, 119, 242))
    return out


def _logo(im: Image.Image) -> Image.Image:
    """A badge of a fifth of the shorter side in the bottom-right corner (4% of the area)."""
    out = im.copy()
    w, h = out.size
    side = min(w, h) // 5
    margin = min(w, h) // 50
    box = (w - margin - side, h - margin - side, w - margin, h - margin)
    ImageDraw.Draw(out).rounded_rectangle(box, radius=side // 5, fill=(220, 30, 60))
    return out


def _badge(corner: str) -> Edit:
    """A white badge of 22% of the shorter side in a corner ("top left" ...): about 5% of the
    area, the largest logo the benchmark draws."""

    def edit(im: Image.Image) -> Image.Image:
        out = im.copy()
        w, h = out.size
        side = round(min(w, h) * 0.22)
        margin = min(w, h) // 50
        x0 = margin if corner.endswith("left") else w - margin - side
        y0 = margin if corner.startswith("top") else h - margin - side
        box = (x0, y0, x0 + side, y0 + side)
        ImageDraw.Draw(out).rounded_rectangle(box, radius=side // 5, fill=(250, 250, 250))
        return out

    return edit


def _both(first: Edit, second: Edit) -> Edit:
    return lambda im: second(first(im))


EDITS: dict[str, Edit] = {
    "crop 3% every side": _crop(0.03, 0.03, 0.03, 0.03),
    "crop 5% every side": _crop(0.05, 0.05, 0.05, 0.05),
    "crop 7.5% every side": _crop(0.075, 0.075, 0.075, 0.075),
    "crop 6% left": _crop(0.06, 0, 0, 0),
    "crop 3% right": _crop(0, 0, 0.03, 0),
    "crop 5% top": _crop(0, 0.05, 0, 0),
    "crop 8% bottom": _crop(0, 0, 0, 0.08),
    "caption banner": _banner,
    "shared-via strip": _strip,
    "corner logo": _logo,
    "crop 4% every side + caption": _both(_crop(0.04, 0.04, 0.04, 0.04), _banner),
    # Each of these three was past 31 bits of every view before the views "L7-B4" ... .
    "crop 5% left + corner logo": _both(_crop(0.05, 0, 0, 0), _badge("bottom right")),
    "crop 5% right + corner logo": _both(_crop(0, 0, 0.05, 0), _badge("top left")),
    "crop 5% top + corner logo": _both(_crop(0, 0.05, 0, 0), _badge("bottom right")),
}


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _bank_file(bank: Bank, data: bytes) -> int:
    """Bank a file as `bank add-files` does: its hashes, then its views."""
    hashes = hash_bytes(data, views=BANK_VIEWS)
    signals = [Signal(k, v) for k, v in hashes.signals().items()]
    entry = bank.entries.add(NewEntry(signals, "csam-a"))
    owners, _ = bank.views.for_files([(hashes.sha256, hashes.md5, hashes.pdq_views)])
    bank.views.add(owners)
    return entry


def _query(data: bytes) -> ContentHashes:
    return hash_bytes(data, variants=True, views=QUERY_VIEWS)


def _match(matcher: Matcher, hashes: ContentHashes) -> dict[int, str | None]:
    """Matched entry -> the view that matched."""
    result = matcher.match(
        hashes.signals(),
        pdq_quality=hashes.pdq_quality,
        pdq_variants=hashes.pdq_variants,
        pdq_views=hashes.pdq_views,
    )
    return {m.entry: m.view for m in result.matches}


@pytest.fixture(scope="module")
def bridge(conformance: Path) -> Image.Image:
    with Image.open(conformance / "pdq" / "dih" / "bridge-1-original.jpg") as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def conformance() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "conformance"


@pytest.fixture(scope="module")
def banked(tmp_path_factory: pytest.TempPathFactory, bridge: Image.Image) -> tuple[Path, int]:
    """A bank holding the bridge photograph, banked from its file, and synthetic photos."""
    path = tmp_path_factory.mktemp("views") / "bank.db"
    with create_bank(path) as bank:
        entry = _bank_file(bank, _jpeg(bridge, 92))
        for seed in (1, 2):
            _bank_file(bank, jpeg_bytes(synthetic_photo(seed)))
    return path, entry


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_banked_photograph_is_found_after_an_edit(
    banked: tuple[Path, int], bridge: Image.Image, edit: str
) -> None:
    path, entry = banked
    copy = _query(_jpeg(EDITS[edit](bridge)))
    with open_bank(path, readonly=True) as bank:
        found = _match(BankMatcher(bank), copy)
    assert entry in found, edit
    assert set(found) == {entry}  # and no other banked photo
    if edit.startswith("crop"):
        # Banked by its hashes alone (no views), the photograph is not found: PDQ is global.
        assert found[entry] is not None
        with create_bank(path.with_name(f"hashes-{edit}.db")) as hash_only:
            full = hash_bytes(_jpeg(bridge, 92))
            hash_only.entries.add(NewEntry([Signal("pdq", full.pdq or "")], "csam-a"))
            assert _match(BankMatcher(hash_only), copy) == {}, edit


def test_the_match_says_which_views_met(banked: tuple[Path, int], bridge: Image.Image) -> None:
    path, entry = banked
    with open_bank(path, readonly=True) as bank:
        matcher = BankMatcher(bank)
        assert _match(matcher, _query(_jpeg(bridge, 90))) == {entry: None}
        cropped = _match(matcher, _query(_jpeg(_crop(0.05, 0.05, 0.05, 0.05)(bridge))))[entry]
        assert cropped in ("c1/c6", "c2/c6", "full/c6", "c1/c3", "c2/c3")
        cropped = _match(matcher, _query(_jpeg(_crop(0, 0, 0.06, 0)(bridge))))[entry]
        assert cropped is not None and cropped.startswith(("R", "full/R"))
        logo = _match(matcher, _query(_jpeg(EDITS["crop 5% left + corner logo"](bridge))))[entry]
        assert logo in ("L3-B4/L7-B4", "-B4/L7-B4")


@pytest.mark.parametrize(
    "edit", ["unedited", "crop 5% every side", "caption banner", "crop 5% left + corner logo"]
)
def test_an_unrelated_photograph_is_not_found(banked: tuple[Path, int], edit: str) -> None:
    path, _ = banked
    strangers = [synthetic_photo(seed) for seed in (40, 41, 42, 43)]
    with open_bank(path, readonly=True) as bank:
        matcher = BankMatcher(bank)
        for stranger in strangers:
            image = stranger if edit == "unedited" else EDITS[edit](stranger)
            hashes = _query(_jpeg(image))
            assert hashes.pdq_views, "the stranger's views were compared"
            assert _match(matcher, hashes) == {}


def test_hash_only_entries_keep_todays_behaviour(tmp_path: Path, bridge: Image.Image) -> None:
    """A bank of hashes alone holds no views: a query's views are neither hashed by a scan
    nor compared, and the matches are today's, whatever the query brings."""
    full = hash_bytes(_jpeg(bridge, 92))
    with create_bank(tmp_path / "b.db") as bank:
        entry = bank.entries.add(NewEntry([Signal("pdq", full.pdq or "")], "csam-a"))
        matcher = BankMatcher(bank)
        assert not matcher.has_views
        for image in (bridge, _crop(0.01, 0.01, 0.01, 0.01)(bridge), _banner(bridge)):
            hashes = _query(_jpeg(image))
            with_views = matcher.match(
                hashes.signals(),
                pdq_quality=hashes.pdq_quality,
                pdq_variants=hashes.pdq_variants,
                pdq_views=hashes.pdq_views,
            )
            without = matcher.match(
                hashes.signals(), pdq_quality=hashes.pdq_quality, pdq_variants=hashes.pdq_variants
            )
            assert with_views == without
            assert all(m.view is None for m in with_views.matches)
        assert entry in {m.entry for m in without.matches}  # the banner: today's match


def test_views_added_later_are_matched_and_saved(tmp_path: Path, bridge: Image.Image) -> None:
    """Views given to an entry after the index was saved are caught up, saved with the
    index, and gone when the entry is removed."""
    data = _jpeg(bridge, 92)
    crop = _query(_jpeg(_crop(0.05, 0.05, 0.05, 0.05)(bridge)))
    with create_bank(tmp_path / "b.db") as bank:
        hashes = hash_bytes(data, views=BANK_VIEWS)
        entry = bank.entries.add(
            NewEntry([Signal(k, v) for k, v in hashes.signals().items()], "csam-a")
        )
        keep_index_current(bank)
        matcher = BankMatcher(bank)
        assert _match(matcher, crop) == {}
        bank.views.add({entry: hashes.pdq_views})
        matcher.refresh()
        assert entry in _match(matcher, crop)
        keep_index_current(bank)
    with open_bank(tmp_path / "b.db", readonly=True) as bank:
        assert entry in _match(BankMatcher(bank), crop)  # from the saved index
    with open_bank(tmp_path / "b.db") as bank:
        matcher = BankMatcher(bank)
        bank.entries.remove(entry)
        matcher.refresh()
        assert _match(matcher, crop) == {}


def test_a_small_bank_matches_views_as_the_indexes_do(
    banked: tuple[Path, int], bridge: Image.Image
) -> None:
    """`SmallBankMatcher` (no numpy, a plain scan) answers as `BankMatcher`, views included."""
    path, _ = banked
    with open_bank(path, readonly=True) as bank:
        small, indexed = SmallBankMatcher(bank), BankMatcher(bank)
        assert small.has_views and indexed.has_views
        for edit in ("crop 5% every side", "crop 6% left", "caption banner", "corner logo"):
            copy = _query(_jpeg(EDITS[edit](bridge)))
            assert _match(small, copy) == _match(indexed, copy), edit
