"""Recall and false positives on transformed copies: hashwarden against python-threatexchange.

Generated benign photos are banked; transformed copies (resize, recompress, crop, border,
brightness, greyscale, watermark, flip, rotate) must match their original at distance 31, and
copies of other photos must not. The anchor compares the files' PDQ hashes
(PdqSignal.hash_from_file) with its documented threshold; hashwarden runs its matcher with
fast-mode hashes and the turned and trimmed variants.

    python benchmarks/bench_pdq_recall.py [--photos N]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import BankMatcher
from hashwarden.signals import Signal, hash_bytes
from hashwarden.synthetic import jpeg_bytes, synthetic_photo


def _watermark(im: Image.Image) -> Image.Image:
    out = im.copy()
    ImageDraw.Draw(out).text(
        (im.width // 20, im.height - im.height // 8), "(c) sample 2026", fill=(255, 255, 255)
    )
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2)),
    "recompress q30": lambda im: Image.open(__import__("io").BytesIO(jpeg_bytes(im, 30))),
    "crop 2%": lambda im: im.crop(
        (im.width // 50, im.height // 50, im.width - im.width // 50, im.height - im.height // 50)
    ),
    "border 8%": lambda im: ImageOps.expand(im, border=(im.width // 12, im.height // 12), fill=0),
    "brightness +30%": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "watermark": _watermark,
    "flip": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rotate 180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=30)
    args = parser.parse_args()
    from threatexchange.signal_type.pdq.signal import PdqSignal

    originals = {seed: synthetic_photo(7000 + seed) for seed in range(args.photos)}
    strangers = [synthetic_photo(9000 + i) for i in range(args.photos)]
    ours_hits: dict[str, int] = defaultdict(int)
    anchor_hits: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bank = create_bank(folder / "bank.db")
        banked: dict[int, str] = {}
        for seed, image in originals.items():
            h = hash_bytes(jpeg_bytes(image))
            bank.entries.add(NewEntry([Signal("pdq", h.pdq or "")], "csam"))
            banked[seed] = h.pdq or ""
        matcher = BankMatcher(bank, threshold=31)

        def anchor_matches(data: bytes, target: str | None) -> bool:
            path = folder / "q.jpg"
            path.write_bytes(data)
            query = PdqSignal.hash_from_file(path)
            hits = [s for s, b in banked.items() if PdqSignal.compare_hash(query, b, 31).match]
            return (target in [banked[s] for s in hits]) if target else bool(hits)

        for seed, image in originals.items():
            for name, transform in TRANSFORMS.items():
                data = jpeg_bytes(transform(image), 85)
                h = hash_bytes(data, variants=True)
                result = matcher.match(
                    {"pdq": h.pdq or ""}, pdq_quality=h.pdq_quality, pdq_variants=h.pdq_variants
                )
                ours_hits[name] += any(m.value == banked[seed] for m in result.matches)
                anchor_hits[name] += anchor_matches(data, banked[seed])
        ours_fp = anchor_fp = 0
        for image in strangers:
            for name in ("resize 50%", "flip", "rotate 90"):
                data = jpeg_bytes(TRANSFORMS[name](image), 85)
                h = hash_bytes(data, variants=True)
                ours_fp += bool(
                    matcher.match(
                        {"pdq": h.pdq or ""}, pdq_quality=h.pdq_quality, pdq_variants=h.pdq_variants
                    ).matches
                )
                anchor_fp += anchor_matches(data, None)
        bank.close()

    n = args.photos
    print(f"{n} banked photos; recall at distance 31 (share of transformed copies matched)")
    print(f"{'transform':<18} {'python-threatexchange':>22} {'hashwarden':>11}")
    for name in TRANSFORMS:
        print(f"{name:<18} {anchor_hits[name] / n:>22.0%} {ours_hits[name] / n:>11.0%}")
    total = n * len(TRANSFORMS)
    print(
        f"{'all':<18} {sum(anchor_hits.values()) / total:>22.0%} "
        f"{sum(ours_hits.values()) / total:>11.0%}"
    )
    print(
        f"false positives on {3 * n} copies of {n} unbanked photos: "
        f"anchor {anchor_fp}, hashwarden {ours_fp}"
    )


if __name__ == "__main__":
    main()
