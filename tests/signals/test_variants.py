"""Fast mode stays near the reference; turned, mirrored and bordered copies still match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import pdq_distance
from hashwarden.scan import run_scan
from hashwarden.signals import Signal, hash_bytes
from hashwarden.signals.hashing import ORIENTATIONS, _dihedral
from hashwarden.signals.parallel import hash_in_parallel
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

SIZES = [(700, 500), (1600, 1200), (3000, 2000), (4000, 3000)]


@pytest.mark.parametrize(("seed", "size"), list(enumerate(SIZES)))
def test_fast_mode_is_within_the_bound(seed: int, size: tuple[int, int]) -> None:
    data = jpeg_bytes(synthetic_photo(seed, *size), 85)
    fast = hash_bytes(data, pdq_mode="fast")
    reference = hash_bytes(data, pdq_mode="reference")
    assert fast.md5 == reference.md5
    assert pdq_distance(fast.pdq or "", reference.pdq or "") <= 8


def test_dihedral_conformance_images_match_in_their_orientation(conformance: Path) -> None:
    folder = conformance / "pdq" / "dih"
    original = hash_bytes((folder / "bridge-1-original.jpg").read_bytes(), variants=True)
    assert set(original.pdq_variants) >= set(ORIENTATIONS[1:])
    for path in sorted(folder.glob("*.jpg")):
        copy = hash_bytes(path.read_bytes(), variants=True)
        nearest = min(
            pdq_distance(original.pdq or "", v)
            for v in [copy.pdq or "", *copy.pdq_variants.values()]
        )
        assert nearest <= 10, path.name


def _bordered(image: Image.Image) -> Image.Image:
    return ImageOps.expand(image.resize((560, 420)), border=(40, 30), fill=(0, 0, 0))


TURNS = {
    "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rotate180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "flipped": lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    "bordered": _bordered,
}


def test_scan_matches_turned_mirrored_and_bordered_copies(tmp_path: Path) -> None:
    original = synthetic_photo(31)
    with create_bank(tmp_path / "b.db") as bank:
        signals = hash_bytes(jpeg_bytes(original)).signals()
        bank.entries.add(NewEntry([Signal(k, v) for k, v in signals.items()], "csam-b"))
    case = tmp_path / "case"
    case.mkdir()
    for name, turn in TURNS.items():
        (case / f"{name}.jpg").write_bytes(jpeg_bytes(turn(original), 85))
    (case / "other.jpg").write_bytes(
        jpeg_bytes(synthetic_photo(32).transpose(Image.Transpose.ROTATE_90))
    )
    result = run_scan([case], tmp_path / "b.db")
    found = {Path(f.path).stem: f for f in result.files}
    for name in TURNS:
        assert found[name].status == "matched", name
    assert found["rotate180"].matches[0].orientation == "rotate180"
    assert found["bordered"].matches[0].orientation == "trimmed"
    assert found["other"].status == "unknown"


def test_a_file_over_the_time_limit_is_an_error_not_a_hang() -> None:
    big = jpeg_bytes(synthetic_photo(1, 3000, 2000))
    small = b"plain text"
    results = list(hash_in_parallel([big, small], lambda b: b, workers=2, timeout=0.01))
    assert results[0][1] is None and "longer than" in (results[0][2] or "")
    assert results[1][1] is not None or "longer than" in (results[1][2] or "")


def _save(images: list[Image.Image], fmt: str, **options: object) -> bytes:
    import io

    buffer = io.BytesIO()
    images[0].save(buffer, fmt, save_all=len(images) > 1, append_images=images[1:], **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_every_frame_or_page_is_matched(tmp_path: Path, fmt: str) -> None:
    pictures = [synthetic_photo(40 + i, 320, 240) for i in range(3)]
    with create_bank(tmp_path / "b.db") as bank:
        pdq = hash_bytes(jpeg_bytes(pictures[2])).pdq or ""
        bank.entries.add(NewEntry([Signal("pdq", pdq)], "csam-c"))
    case = tmp_path / "case"
    case.mkdir()
    (case / f"multi.{fmt.lower()}").write_bytes(_save(pictures, fmt))
    result = run_scan([case], tmp_path / "b.db")
    assert result.files[0].status == "matched"
    assert result.files[0].matches[0].orientation == "frame3"


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("PNG", "image/png"),
        ("HEIF", "image/heic"),
        ("AVIF", "image/avif"),
    ],
)
def test_image_formats_hash_near_the_jpeg(fmt: str, media_type: str) -> None:
    picture = synthetic_photo(50)
    jpeg = hash_bytes(jpeg_bytes(picture, 95))
    if fmt == "HEIF":  # written by pillow-heif itself: hashing teaches Pillow HEIF when it meets it
        import io

        import pillow_heif

        buffer = io.BytesIO()
        pillow_heif.from_pillow(picture).save(buffer, quality=90)
        data = buffer.getvalue()
    else:
        data = _save([picture], fmt, quality=90) if fmt != "BMP" else _save([picture], fmt)
    other = hash_bytes(data)
    assert other.media_type == media_type and other.image_error is None
    assert pdq_distance(jpeg.pdq or "", other.pdq or "") <= 16


def _dihedral_reference(pixels: np.ndarray) -> tuple[list[str], int]:
    bits, quality = pdqhash.compute_dihedral(pixels)
    return [np.packbits(b.astype(np.uint8)).tobytes().hex() for b in bits], int(quality)


@pytest.mark.parametrize("seed", range(6))
def test_dihedral_is_the_references_bit_for_bit_on_photos(seed: int) -> None:
    size = [(640, 480), (480, 640), (1024, 683), (300, 300), (97, 211), (64, 64)][seed]
    pixels = np.asarray(synthetic_photo(seed, *size).convert("RGB"))
    assert _dihedral(pixels) == _dihedral_reference(pixels)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    levels=st.sampled_from([1, 2, 3, 256]),
)
def test_dihedral_is_the_references_bit_for_bit_on_any_picture(
    seed: int, height: int, width: int, levels: int
) -> None:
    # few levels: flat and two-tone pictures, where many coefficients tie with the median
    rng = np.random.default_rng(seed)
    pixels = (rng.integers(0, levels, (height, width, 3)) * (255 // max(levels - 1, 1))).astype(
        np.uint8
    )
    assert _dihedral(pixels) == _dihedral_reference(pixels)
