"""Recall and false positives on real photographs edited as copies really are (issue 15).

Benign stock photographs shipped inside Debian and PyPI packages (benchmarks/photos.py) are split
by a seeded shuffle: the first ones are banked as `bank add-files` banks them (hashwarden's
fast-mode PDQ of the file), the rest are never banked. Each banked photo is edited at realistic
strength, seeded per photo and edit: crops of 2-8% on every side and on one side, a caption
banner, a "shared via" strip, a corner logo, a text watermark, a border, resizing, JPEG
recompression, greyscale, brightness, mirror, rotations and two edits together. Every copy is
matched at PDQ distance 31 by hashwarden's BankMatcher (with the turned and trimmed variants) and
by python-threatexchange's PdqSignal, for banked photos of PDQ quality >= 50. The unrelated
photos, and copies of them, are matched as well: any hit is a false positive.

The same hashes then measure prototypes of view matching (benchmarks/_views.py): each design
banks hashes of views of the photo and hashes views of the query. Reported for each: recall per
edit, false positives, hashes banked per entry, and the hashing time of a query against today's.

    python benchmarks/bench_pdq_recall_real.py [--originals 103] [--workers 2] [--markdown FILE]
        [--edits TEXT ...]

`--edits` measures only the edits whose names contain one of the texts (every unrelated photo
and its edited copies are still matched for false positives).

Photos larger than 1280 pixels on a side are banked as a 1280-pixel JPEG (q92), as a messaging
app or a site serves them; hashing and editing them at full size would only add time.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _views import (
    Design,
    ViewHasher,
    allowed_pairs,
    decode_fast,
    evaluate_pairs,
    largest_difference,
)
from photos import missing_packages, photo_paths, split_corpus
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import BankMatcher
from hashwarden.signals import Signal, hash_bytes
from hashwarden.signals.views import BANK_VIEWS, QUERY_VIEWS

THRESHOLD = 31
MIN_QUALITY = 50
MAX_SIDE = 1280
COPY_QUALITY = 90  # JPEG quality of an edited copy, unless the edit sets its own
NOTES_MARKER = "<!-- notes: kept when the tables above are written again -->"
NEAR = 50  # unrelated pairs this close are counted: the margin left below them

Edit = Callable[[Image.Image, random.Random], tuple[Image.Image, int]]


# --- the edits ---------------------------------------------------------------------------


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(left * w), round(top * h), w - round(right * w), h - round(bottom * h)))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _overlay(im: Image.Image, draw: Callable[[ImageDraw.ImageDraw], None]) -> Image.Image:
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw(ImageDraw.Draw(layer))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def crop_every_side(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    share = rng.uniform(0.02, 0.08)
    return _crop(im, share, share, share, share), COPY_QUALITY


def crop_uneven(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    return _crop(im, *(rng.uniform(0.02, 0.08) for _ in range(4))), COPY_QUALITY


def crop_side(side: str) -> Edit:
    def edit(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
        share = rng.uniform(0.02, 0.08)
        return _crop(im, *(share * (side == s) for s in "LTRB")), COPY_QUALITY

    return edit


def caption_banner(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    """A dark caption across the bottom twelfth, half the width (1/24 of the area)."""
    w, h = im.size
    x0 = rng.choice([0, w // 4, w // 2])
    box = (x0, h - h // 12, x0 + w // 2, h)
    words = rng.choice(["when the weekend finally arrives", "nobody:  absolutely nobody:", "mood"])

    def draw(d: ImageDraw.ImageDraw) -> None:
        d.rectangle(box, fill=(12, 12, 12, 235))
        d.text((x0 + w // 40, h - h // 12 + h // 60), words, font=_font(h // 24), fill="white")

    return _overlay(im, draw), COPY_QUALITY


def shared_via_strip(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    """A full-width strip of 5-8% of the height over the top or bottom: an app's banner."""
    w, h = im.size
    strip = round(h * rng.uniform(0.05, 0.08))
    top = rng.random() < 0.5
    y0 = 0 if top else h - strip
    colour = rng.choice([(255, 255, 255, 255), (24, 119, 242, 255), (37, 211, 102, 255)])

    def draw(d: ImageDraw.ImageDraw) -> None:
        d.rectangle((0, y0, w, y0 + strip), fill=colour)
        d.text(
            (w // 30, y0 + strip // 4), "shared via PhotoApp", font=_font(strip // 2), fill="black"
        )

    return _overlay(im, draw), COPY_QUALITY


def corner_logo(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    """A badge of 15-22% of the shorter side in a corner (about 2-5% of the area)."""
    w, h = im.size
    side = round(min(w, h) * rng.uniform(0.15, 0.22))
    margin = round(min(w, h) * 0.02)
    x0 = margin if rng.random() < 0.5 else w - margin - side
    y0 = margin if rng.random() < 0.5 else h - margin - side
    colour = rng.choice([(220, 30, 60, 230), (250, 250, 250, 220), (20, 20, 20, 220)])

    def draw(d: ImageDraw.ImageDraw) -> None:
        d.rounded_rectangle((x0, y0, x0 + side, y0 + side), radius=side // 5, fill=colour)
        d.text((x0 + side // 4, y0 + side // 5), "P", font=_font(side // 2), fill=(90, 90, 90, 255))

    return _overlay(im, draw), COPY_QUALITY


def text_watermark(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    """Half-transparent white text across the middle, a tenth of the height tall."""
    w, h = im.size
    size = h // 10
    text = "© sample photos"
    font = _font(size)

    def draw(d: ImageDraw.ImageDraw) -> None:
        width = d.textlength(text, font=font)
        x = (w - width) / 2 + rng.uniform(-0.1, 0.1) * w
        d.text((x, h / 2 - size / 2), text, font=font, fill=(255, 255, 255, 128))

    return _overlay(im, draw), COPY_QUALITY


def border(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    w, h = im.size
    share = rng.uniform(0.03, 0.08)
    colour = rng.choice(["white", "black", (128, 128, 128), (180, 30, 30)])
    return ImageOps.expand(im, border=(round(share * w), round(share * h)), fill=colour), 90


def resize(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    scale = rng.uniform(0.25, 0.5)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS), COPY_QUALITY


def recompress(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    return im, rng.randint(30, 50)


def brightness(factor: float) -> Edit:
    return lambda im, rng: (ImageEnhance.Brightness(im).enhance(factor), COPY_QUALITY)


def turn(transpose: Image.Transpose) -> Edit:
    return lambda im, rng: (im.transpose(transpose), COPY_QUALITY)


def both(first: Edit, second: Edit) -> Edit:
    def edit(im: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
        middle, quality = first(im, rng)
        out, second_quality = second(middle, rng)
        return out, min(quality, second_quality)

    return edit


EDITS: dict[str, Edit] = {
    "crop 2-8% every side": crop_every_side,
    "crop 2-8% left": crop_side("L"),
    "crop 2-8% right": crop_side("R"),
    "crop 2-8% top": crop_side("T"),
    "crop 2-8% bottom": crop_side("B"),
    "caption banner (bottom 1/12, half width)": caption_banner,
    "shared-via strip (5-8% of height)": shared_via_strip,
    "corner logo (2-5% of area)": corner_logo,
    "text watermark": text_watermark,
    "border 3-8%": border,
    "resize 25-50%": resize,
    "recompress q30-50": recompress,
    "greyscale": lambda im, rng: (ImageOps.grayscale(im), COPY_QUALITY),
    "brightness +25%": brightness(1.25),
    "brightness -25%": brightness(0.75),
    "mirror": turn(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate 90": turn(Image.Transpose.ROTATE_90),
    "rotate 180": turn(Image.Transpose.ROTATE_180),
    "rotate 270": turn(Image.Transpose.ROTATE_270),
    "crop every side + caption": both(crop_every_side, caption_banner),
    "crop one side + corner logo": both(
        lambda im, rng: crop_side(rng.choice("LTRB"))(im, rng), corner_logo
    ),
    "mirror + recompress": both(turn(Image.Transpose.FLIP_LEFT_RIGHT), recompress),
    "resize + shared-via strip": both(resize, shared_via_strip),
}
#: Informative: each side cropped by its own share; not among the issue's targets.
EXTRA_EDITS: dict[str, Edit] = {"(extra) crop 2-8% each side apart": crop_uneven}
#: Copies of unrelated photos matched for false positives: the edits that move the framing.
UNRELATED_EDITS = (
    "crop 2-8% every side",
    "crop 2-8% left",
    "caption banner (bottom 1/12, half width)",
    "corner logo (2-5% of area)",
    "crop every side + caption",
    "crop one side + corner logo",
)
ALL_EDITS = {**EDITS, **EXTRA_EDITS}

# --- the designs of view matching measured -----------------------------------------------

#: Without the bottom or top twelfth (captions, banners), or quarter (a corner logo).
STRIPS = ("-B12", "-T12", "-B4", "-T4")


def _sides(*shares: float) -> tuple[str, ...]:
    return tuple(f"{side}{share:g}" for side in "LRTB" for share in shares)


def _sides_less_quarter(*shares: float) -> tuple[str, ...]:
    """One-sided crops, then without the bottom or top quarter: a crop plus a corner logo."""
    return tuple(f"{side}-{strip}" for side in _sides(*shares) for strip in ("B4", "T4"))


def _centres(*shares: float, then: str = "") -> tuple[str, ...]:
    return tuple(f"c{share:g}{then}" for share in shares)


#: Banked 2-8% ladders with 1-2% steps; the query adds only its strips.
BANK_LADDER = {
    "bank": _centres(*range(2, 9)) + _sides(3, 5, 7) + STRIPS + _centres(*range(2, 9), then="-B12"),
    "query": STRIPS,
}
#: Coarser banked ladders; the query's own small crops fill the steps (a query cropped 1%
#: more meets a banked view 1% further in).
SPLIT_LADDER = {
    "bank": _centres(3, 6, 9) + _sides(4, 8) + STRIPS + _centres(3, 6, 9, then="-B12"),
    "query": _centres(1, 2) + _sides(2) + STRIPS + _centres(1, 2, then="-B12"),
}
#: Fewest banked views; the query crops itself in 1-2% steps.
QUERY_LADDER = {
    "bank": _centres(4, 8) + _sides(8) + STRIPS + _centres(4, 8, then="-B12"),
    "query": _centres(1, 2, 3) + _sides(2, 4, 6) + STRIPS + _centres(1, 2, 3, then="-B12"),
}


def _plus(
    design: dict[str, tuple[str, ...]], bank: tuple[str, ...], query: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """A design's views with these added (banked, query)."""
    return {"bank": design["bank"] + bank, "query": design["query"] + query}


DESIGNS: tuple[Design, ...] = (
    Design(
        "D5 = D2, side-quarters 7 / 2 4",
        **_plus(SPLIT_LADDER, _sides_less_quarter(7), _sides_less_quarter(2, 4)),
    ),
    Design(
        "D11 = D2, side-quarters 7 / 3 (hashwarden)",
        **_plus(SPLIT_LADDER, _sides_less_quarter(7), _sides_less_quarter(3)),
    ),
    Design(
        "D4 = D2, side-quarters 4 8 / 2",
        **_plus(SPLIT_LADDER, _sides_less_quarter(4, 8), _sides_less_quarter(2)),
    ),
    Design("D1 bank ladder", **BANK_LADDER),
    Design("D2 split ladder", **SPLIT_LADDER),
    Design("D3 query ladder", **QUERY_LADDER),
    Design("D2, guard: two views", **SPLIT_LADDER, guard="two"),
    Design("D2, views at 24", **SPLIT_LADDER, view_threshold=24),
    Design("D2, all pairs", **SPLIT_LADDER, pairing="all"),
)
#: Today's query hashes besides the full PDQ: hashwarden's turned and trimmed variants.
TODAY_VARIANTS = (
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "transverse",
    "trimmed",
)


# --- hashing, in worker processes --------------------------------------------------------


@dataclass
class Hashed:
    """Hashes of a photo as banked, or of a copy as queried; views as (hex, quality)."""

    pdq: str | None
    quality: int
    pytx: str
    views: dict[str, tuple[str, int]]
    variants: dict[str, str] = field(default_factory=dict)
    signals: dict[str, str] = field(default_factory=dict)
    #: hashwarden's own views (signals/views.py: D2), as `bank add-files` or `scan` hash them.
    real_views: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # hashwarden's hashing (CPU)
    real_seconds: float = 0.0  # hashwarden's hashing with its views (CPU)
    view_setup: float = 0.0  # the luminance that every view shares (CPU)
    view_seconds: float = 0.0  # all the views (CPU)


@dataclass
class PhotoResult:
    index: int
    path: str
    banked: Hashed
    copies: dict[str, Hashed]


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _banked_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= MAX_SIDE:
            return data
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        return _jpeg(image.convert("RGB"), 92)


def _pytx(data: bytes) -> str:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    try:
        return PdqSignal.hash_from_bytes(data)
    except Exception:  # pytx refuses some modes (e.g. RGBA arrays): no hash, as for low quality
        return ""


def _hash(data: bytes, views: list[str], *, query: bool) -> Hashed:
    start = time.process_time()
    ours = hash_bytes(data, variants=query)
    middle = time.process_time()
    pixels = decode_fast(data)  # hashwarden's own decode, again: not counted in the views' time
    setup = time.process_time()
    hasher = ViewHasher(pixels)
    ready = time.process_time()
    found = {name: hasher.hash(name) for name in views}
    end = time.process_time()
    real = hash_bytes(data, variants=query, views=QUERY_VIEWS if query else BANK_VIEWS)
    real_end = time.process_time()
    return Hashed(
        ours.pdq,
        ours.pdq_quality or 0,
        _pytx(data),
        found,
        ours.pdq_variants,
        ours.signals() if not query else {},
        real.pdq_views,
        middle - start,
        real_end - end,
        ready - setup,
        end - ready,
    )


def _hash_photo(job: tuple[int, str, tuple[str, ...], list[str], list[str], int]) -> PhotoResult:
    index, path, edits, bank_views, query_views, seed = job
    data = _banked_bytes(Path(path))
    banked = _hash(data, bank_views, query=False)
    copies: dict[str, Hashed] = {}
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    for name in edits:
        if name == "unedited":
            copies[name] = _hash(data, query_views, query=True)
            continue
        rng = random.Random(f"{seed}:{index}:{name}")
        edited, quality = ALL_EDITS[name](image, rng)
        copies[name] = _hash(_jpeg(edited, quality), query_views, query=True)
    return PhotoResult(index, path, banked, copies)


# --- matching ------------------------------------------------------------------------------


def _words(hexes: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 256) float32 bits and (N,) presence of hex PDQ hashes (None: absent)."""
    bits = np.zeros((len(hexes), 256), dtype=np.float32)
    present = np.zeros(len(hexes), dtype=bool)
    for row, value in enumerate(hexes):
        if value:
            bits[row] = np.unpackbits(np.frombuffer(bytes.fromhex(value), dtype=np.uint8))
            present[row] = True
    return bits, present


@dataclass
class HashTable:
    """Hashes of many photos or copies under the same names: (rows, names) bits and usability."""

    names: list[str]
    bits: np.ndarray  # (rows, names, 256) float32
    usable: np.ndarray  # (rows, names) bool: present and of quality >= 50


def _table(items: list[Hashed], names: list[str], query: bool) -> HashTable:
    hexes: list[str | None] = []
    usable: list[bool] = []
    for item in items:
        for name in names:
            if name == "full":
                value, quality = item.pdq, item.quality
            elif name in TODAY_VARIANTS:
                value, quality = item.variants.get(name), item.quality
            else:
                value, quality = item.views.get(name, (None, 0))
            hexes.append(value)
            usable.append(value is not None and quality >= MIN_QUALITY)
    bits, present = _words(hexes)
    shape = (len(items), len(names))
    return HashTable(names, bits.reshape(*shape, 256), (present & np.array(usable)).reshape(shape))


def _distances(queries: HashTable, bank: HashTable) -> np.ndarray:
    """(Q, M, E, K) Hamming distances, int16, by one matrix product (bits are 0/1)."""
    q = queries.bits.reshape(-1, 256)
    b = bank.bits.reshape(-1, 256)
    same = q @ b.T + (1 - q) @ (1 - b).T
    dist = (256 - np.rint(same)).astype(np.int16)
    return dist.reshape(*queries.bits.shape[:2], *bank.bits.shape[:2])


@dataclass
class DesignOutcome:
    recall: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    wrong_entry: int = 0
    unrelated_hits: int = 0
    unrelated_copies_hits: int = 0
    unrelated_pairs_hit: int = 0
    nearest_unrelated: int = 999
    #: (unrelated photo or copy, banked photo) pairs, and unrelated pairs, within NEAR bits.
    near_unrelated: int = 0
    #: Hash pairs compared for one query and one entry, at most (the exposure to chance hits).
    pairs_compared: int = 0


def _mask_for(design: Design | None, queries: HashTable, bank: HashTable) -> np.ndarray:
    """Thresholds of the compared pairs: today's (full and variants against full) for None."""
    if design is None:
        mask = np.zeros((len(queries.names), len(bank.names)), dtype=np.int16)
        for i, name in enumerate(queries.names):
            if name == "full" or name in TODAY_VARIANTS:
                mask[i, bank.names.index("full")] = THRESHOLD
        return mask
    mask = allowed_pairs(design, queries.names, bank.names)
    for i, name in enumerate(queries.names):
        if not (name == "full" or name in TODAY_VARIANTS or name in design.query):
            mask[i] = 0
    for j, name in enumerate(bank.names):
        if not (name == "full" or name in design.bank):
            mask[:, j] = 0
    return mask


def _match(
    queries: HashTable, bank: HashTable, masks: dict[str, np.ndarray], guards: dict[str, str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each design: (matched (Q, E), nearest compared distance (Q, E)), in chunks."""
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    chunk = max(1, 4_000_000 // (len(queries.names) * bank.bits.shape[0] * len(bank.names)))
    for start in range(0, queries.bits.shape[0], chunk):
        part = HashTable(
            queries.names,
            queries.bits[start : start + chunk],
            queries.usable[start : start + chunk],
        )
        dist = _distances(part, bank)
        for name, mask in masks.items():
            out[name].append(evaluate_pairs(dist, part.usable, bank.usable, mask, guards[name]))
    return {
        name: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        for name, parts in out.items()
    }


# --- the run -------------------------------------------------------------------------------


def _run_jobs(
    originals: list[Path], unrelated: list[Path], workers: int, seed: int, edits: list[str]
) -> tuple[list[PhotoResult], list[PhotoResult]]:
    bank_views = sorted({v for d in DESIGNS for v in d.bank})
    query_views = sorted({v for d in DESIGNS for v in d.query})
    jobs = [
        (i, str(p), tuple(edits), bank_views, query_views, seed) for i, p in enumerate(originals)
    ]
    jobs += [
        (len(originals) + i, str(p), ("unedited", *UNRELATED_EDITS), bank_views, query_views, seed)
        for i, p in enumerate(unrelated)
    ]
    # Largest files first, so that the two workers finish together.
    jobs.sort(key=lambda job: -Path(job[1]).stat().st_size)
    done: dict[int, PhotoResult] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_hash_photo, jobs):
            done[result.index] = result
            print(f"\rhashed {len(done)}/{len(jobs)} photos", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    ordered = [done[i] for i in sorted(done)]
    return ordered[: len(originals)], ordered[len(originals) :]


@dataclass
class Baseline:
    """Today's hashwarden (BankMatcher) and python-threatexchange, per edit and in all."""

    ours: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    pytx: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    #: hashwarden with its views: entries banked with them, queries hashed with them.
    views: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    views_wrong: int = 0
    views_fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ours_wrong: int = 0
    pytx_wrong: int = 0
    ours_fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pytx_fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ours_fp_copies: int = 0
    pytx_fp_copies: int = 0


def _baseline(
    originals: list[PhotoResult], unrelated: list[PhotoResult], good: set[int]
) -> Baseline:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    out = Baseline()
    with tempfile.TemporaryDirectory() as tmp:
        bank = create_bank(Path(tmp) / "bank.db")
        with_views = create_bank(Path(tmp) / "views.db")
        entry_of: dict[int, int] = {}
        for photo in originals:  # as `bank add-files` banks a file: every signal of its hashes
            signals = [Signal(kind, value) for kind, value in photo.banked.signals.items()]
            entry = NewEntry(signals, extra={"file_name": Path(photo.path).name})
            entry_of[photo.index] = bank.entries.add(entry)
            # ... and, today, its views (the same entry ids: both banks get the same entries).
            assert with_views.entries.add(entry) == entry_of[photo.index]
            with_views.views.add({entry_of[photo.index]: photo.banked.real_views})
        matcher = BankMatcher(bank, threshold=THRESHOLD)
        view_matcher = BankMatcher(with_views, threshold=THRESHOLD)
        pytx_bank = [(p.index, p.banked.pytx) for p in originals if p.banked.pytx]

        def ours_hits(copy: Hashed) -> set[int]:
            if copy.pdq is None:
                return set()
            result = matcher.match(
                {"pdq": copy.pdq}, pdq_quality=copy.quality, pdq_variants=copy.variants
            )
            return {m.entry for m in result.matches}

        def view_hits(copy: Hashed) -> set[int]:
            if copy.pdq is None:
                return set()
            result = view_matcher.match(
                {"pdq": copy.pdq},
                pdq_quality=copy.quality,
                pdq_variants=copy.variants,
                pdq_views=copy.real_views,
            )
            return {m.entry for m in result.matches}

        def pytx_hits(copy: Hashed) -> set[int]:
            if not copy.pytx:
                return set()
            return {
                i for i, h in pytx_bank if PdqSignal.compare_hash(copy.pytx, h, THRESHOLD).match
            }

        for photo in originals:
            if photo.index not in good:
                continue
            for name, copy in photo.copies.items():
                ours, theirs, viewed = ours_hits(copy), pytx_hits(copy), view_hits(copy)
                out.views[name].append(entry_of[photo.index] in viewed)
                out.views_wrong += len(viewed - {entry_of[photo.index]})
                out.ours[name].append(entry_of[photo.index] in ours)
                out.pytx[name].append(photo.index in theirs)
                out.ours_wrong += len(ours - {entry_of[photo.index]})
                out.pytx_wrong += len(theirs - {photo.index})
        for photo in unrelated:
            for name, copy in photo.copies.items():
                out.ours_fp[name] += bool(ours_hits(copy))
                out.views_fp[name] += bool(view_hits(copy))
                out.pytx_fp[name] += bool(pytx_hits(copy))
        # The unrelated photos against the edited copies, as if those copies were banked.
        copies = [c for p in originals for c in p.copies.values()]
        for field_name, fetch in (
            ("ours_fp_copies", lambda h: [h.pdq, *h.variants.values()] if h.pdq else []),
            ("pytx_fp_copies", lambda h: [h.pytx] if h.pytx else []),
        ):
            owners = [i for i, p in enumerate(unrelated) for _ in fetch(p.copies["unedited"])]
            queries = [v for p in unrelated for v in fetch(p.copies["unedited"])]
            banked = [fetch(c)[0] if fetch(c) else None for c in copies]
            hits = _pair_distances(queries, banked) <= THRESHOLD  # (queries, copies)
            per_photo = np.zeros((len(unrelated), len(copies)), dtype=bool)
            np.logical_or.at(per_photo, np.array(owners, dtype=int), hits)
            setattr(out, field_name, int(per_photo.sum()))
        bank.close()
        with_views.close()
    return out


def _pair_distances(first: list[str], second: list[str | None]) -> np.ndarray:
    """Hamming distances of every hex PDQ in `first` to every one in `second` (absent: 999)."""
    a, _ = _words(list(first))
    b, present = _words(second)
    same = a @ b.T + (1 - a) @ (1 - b).T
    return np.where(present[None, :], 256 - np.rint(same), 999)


def _designs(
    originals: list[PhotoResult], unrelated: list[PhotoResult], good: set[int], edits: list[str]
) -> tuple[dict[str, DesignOutcome], list[str], list[str]]:
    """Every design (and "today", the prototype's own replay of today's rule) on the hashes."""
    bank_names = ["full", *sorted({v for d in DESIGNS for v in d.bank})]
    query_names = ["full", *TODAY_VARIANTS, *sorted({v for d in DESIGNS for v in d.query})]
    bank = _table([p.banked for p in originals], bank_names, query=False)
    designs: dict[str, Design | None] = {"today (replayed)": None, **{d.name: d for d in DESIGNS}}
    probe = _table([p.copies["unedited"] for p in unrelated], query_names, query=True)
    masks = {name: _mask_for(d, probe, bank) for name, d in designs.items()}
    guards = {name: (d.guard if d else "none") for name, d in designs.items()}
    outcomes = {name: DesignOutcome() for name in designs}
    for name, mask in masks.items():
        outcomes[name].pairs_compared = int((mask > 0).sum())

    copies = [(p.index, e, p.copies[e]) for p in originals if p.index in good for e in edits]
    queries = _table([c[2] for c in copies], query_names, query=True)
    own = np.array([c[0] for c in copies])
    for name, (matched, _) in _match(queries, bank, masks, guards).items():
        hit_own = matched[np.arange(len(copies)), own]
        for (_, edit, _), hit in zip(copies, hit_own, strict=True):
            outcomes[name].recall[edit].append(bool(hit))
        outcomes[name].wrong_entry = int(matched.sum() - hit_own.sum())

    names = ("unedited", *UNRELATED_EDITS)
    strangers = _table([p.copies[e] for p in unrelated for e in names], query_names, query=True)
    for name, (matched, best) in _match(strangers, bank, masks, guards).items():
        hits = matched.any(axis=1).reshape(len(unrelated), len(names))
        outcomes[name].unrelated_hits = int(hits[:, 0].sum())
        outcomes[name].unrelated_copies_hits = int(hits[:, 1:].sum())
        outcomes[name].nearest_unrelated = int(best.min())
        outcomes[name].near_unrelated = int((best <= NEAR).sum())

    # Unrelated against unrelated: each one's views banked, every other one queried.
    their_bank = _table([p.banked for p in unrelated], bank_names, query=False)
    for name, (matched, best) in _match(probe, their_bank, masks, guards).items():
        np.fill_diagonal(matched, False)
        np.fill_diagonal(best, 999)
        outcomes[name].unrelated_pairs_hit = int(matched.sum())
        outcomes[name].nearest_unrelated = min(outcomes[name].nearest_unrelated, int(best.min()))
        outcomes[name].near_unrelated += int((best <= NEAR).sum())
    return outcomes, bank_names, query_names


def _cpu_minutes() -> float:
    """CPU time of this process and its finished workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime) / 60


def _share(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):.0%}" if hits else "-"


def _report(
    originals: list[PhotoResult],
    unrelated: list[PhotoResult],
    good: set[int],
    baseline: Baseline,
    outcomes: dict[str, DesignOutcome],
    command: str,
    seconds: float,
    edits: list[str],
) -> str:
    design_names = [d.name for d in DESIGNS]
    lines = [
        "# PDQ recall on real photographs: crops, captions, banners (issue 15)",
        "",
        f"Command: `{command}`: {seconds / 60:.1f} minutes on this machine's 2 cores, "
        f"{_cpu_minutes():.1f} minutes of CPU in all (load average {os.getloadavg()[0]:.1f} at "
        "the end: other work shared the cores).",
        "",
        f"{len(originals) + len(unrelated)} distinct photographs from Debian and PyPI packages "
        f"(benchmarks/photos.py): {len(originals)} banked, of which {len(good)} of PDQ quality "
        f">= {MIN_QUALITY} are measured; {len(unrelated)} never banked. Distance {THRESHOLD}. "
        "Each edit at a strength drawn per photo (seeded): see the edits in "
        'benchmarks/bench_pdq_recall_real.py. "hashwarden with views" is hashwarden\'s matcher '
        "with the views `bank add-files` banks and `scan` hashes (design D11: D2 "
        "and one-sided crops less a quarter, hashwarden.signals.views); the columns after it are prototypes of view matching "
        "(benchmarks/_views.py), on top of today's rule.",
        "",
        "| edit | python-threatexchange | hashwarden today | hashwarden with views | "
        + " | ".join(design_names)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in design_names) + " |",
    ]
    for edit in edits:
        row = [edit, _share(baseline.pytx[edit]), _share(baseline.ours[edit])]
        row.append(_share(baseline.views[edit]))
        row += [_share(outcomes[n].recall[edit]) for n in design_names]
        lines.append("| " + " | ".join(row) + " |")

    def total(table: dict[str, list[bool]]) -> str:
        return _share([h for e in EDITS for h in table[e]])

    def worst(table: dict[str, list[bool]]) -> str:
        return min(
            (sum(table[e]) / len(table[e]) for e in EDITS if table[e]), default=0.0
        ).__format__(".0%")

    lines.append(
        "| **all edits (without extra)** | "
        + " | ".join(
            [total(baseline.pytx), total(baseline.ours), total(baseline.views)]
            + [total(outcomes[n].recall) for n in design_names]
        )
        + " |"
    )
    lines.append(
        "| **worst edit** | "
        + " | ".join(
            [worst(baseline.pytx), worst(baseline.ours), worst(baseline.views)]
            + [worst(outcomes[n].recall) for n in design_names]
        )
        + " |"
    )
    copies = len(unrelated) * len(UNRELATED_EDITS)
    fp = [
        f"| false positives: {len(unrelated)} unrelated photos | "
        + " | ".join(
            [
                str(baseline.pytx_fp["unedited"]),
                str(baseline.ours_fp["unedited"]),
                str(baseline.views_fp["unedited"]),
            ]
            + [str(outcomes[n].unrelated_hits) for n in design_names]
        )
        + " |",
        f"| false positives: {copies} edited copies of them | "
        + " | ".join(
            [
                str(sum(v for k, v in baseline.pytx_fp.items() if k != "unedited")),
                str(sum(v for k, v in baseline.ours_fp.items() if k != "unedited")),
                str(sum(v for k, v in baseline.views_fp.items() if k != "unedited")),
            ]
            + [str(outcomes[n].unrelated_copies_hits) for n in design_names]
        )
        + " |",
        f"| matches to another banked photo ({len(good) * len(edits)} copies) | "
        + " | ".join(
            [str(baseline.pytx_wrong), str(baseline.ours_wrong), str(baseline.views_wrong)]
            + [str(outcomes[n].wrong_entry) for n in design_names]
        )
        + " |",
        f"| unrelated against unrelated ({len(unrelated)} x {len(unrelated) - 1} pairs) | - | "
        + " | ".join(
            [str(outcomes["today (replayed)"].unrelated_pairs_hit), "-"]
            + [str(outcomes[n].unrelated_pairs_hit) for n in design_names]
        )
        + " |",
        f"| unrelated pairs within {NEAR} bits (both checks above) | - | "
        + " | ".join(
            [str(outcomes["today (replayed)"].near_unrelated), "-"]
            + [str(outcomes[n].near_unrelated) for n in design_names]
        )
        + " |",
        "| hash pairs compared per query and entry | 1 | "
        + " | ".join(
            [str(outcomes["today (replayed)"].pairs_compared), "-"]
            + [str(outcomes[n].pairs_compared) for n in design_names]
        )
        + " |",
        "| nearest unrelated pair compared (distance) | - | "
        + " | ".join(
            [str(outcomes["today (replayed)"].nearest_unrelated), "-"]
            + [str(outcomes[n].nearest_unrelated) for n in design_names]
        )
        + " |",
    ]
    lines += fp
    lines += [
        "",
        f"Unrelated photos against the edited copies of the banked ones (as if the copies were "
        f"banked): python-threatexchange {baseline.pytx_fp_copies}, hashwarden "
        f"{baseline.ours_fp_copies} matches.",
        "",
    ]
    # Cost of each design: hashes per entry and CPU time of hashing, against today's.
    bank_views = sorted({v for d in DESIGNS for v in d.bank})
    query_views = sorted({v for d in DESIGNS for v in d.query})
    queries = [c for p in originals for c in p.copies.values()]
    query_today = sum(c.seconds for c in queries) / len(queries)
    query_setup = sum(c.view_setup for c in queries) / len(queries)
    per_query_view = sum(c.view_seconds for c in queries) / len(queries) / max(1, len(query_views))
    bank_today = sum(p.banked.seconds for p in originals) / len(originals)
    real_query = sum(c.real_seconds for c in queries) / len(queries)
    real_bank = sum(p.banked.real_seconds for p in originals) / len(originals)
    bank_setup = sum(p.banked.view_setup for p in originals) / len(originals)
    per_bank_view = (
        sum(p.banked.view_seconds for p in originals) / len(originals) / max(1, len(bank_views))
    )

    def factor(today: float, setup: float, per_view: float, views: int) -> str:
        return f"x{(today + (setup + views * per_view if views else 0)) / today:.2f}"

    lines += [
        "| design | views banked | views of a query | pairing | view distance | guard | "
        "hashes banked per entry | banking time | query hashing time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in DESIGNS:
        kept = [
            1 + sum(1 for v in d.bank if p.banked.views.get(v, ("", 0))[1] >= MIN_QUALITY)
            for p in originals
        ]
        lines.append(
            f"| {d.name} | {' '.join(d.bank)} | {' '.join(d.query)} | {d.pairing} | "
            f"{d.view_threshold} | {d.guard} | {sum(kept) / len(kept):.1f} (of {1 + len(d.bank)}) | "
            f"{factor(bank_today, bank_setup, per_bank_view, len(d.bank))} | "
            f"{factor(query_today, query_setup, per_query_view, len(d.query))} |"
        )
    lines += [
        "",
        f"Times are CPU seconds in the workers. Today a banked photo takes {bank_today * 1000:.0f} ms "
        f"(hash_bytes, every signal) and a query {query_today * 1000:.0f} ms (with the turned and "
        f"trimmed variants). Views are hashed from the pixels hashwarden decoded: the luminance "
        f"once ({bank_setup * 1000:.1f} ms banked, {query_setup * 1000:.1f} ms query), then "
        f"{per_bank_view * 1000:.1f} / {per_query_view * 1000:.1f} ms a view (_views.ViewHasher, "
        "bit for bit pdqhash's result; pdqhash itself takes about 5 times as long a view).",
        "",
        f"hashwarden with views, whole hash_bytes calls: banking a file "
        f"x{real_bank / bank_today:.2f} ({real_bank * 1000:.0f} ms), hashing a query "
        f"x{real_query / query_today:.2f} ({real_query * 1000:.0f} ms), against without views.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--originals", type=int, default=103, help="photos banked (the rest never)")
    parser.add_argument("--unrelated", type=int, default=None, help="at most this many unrelated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    parser.add_argument(
        "--edits", nargs="+", default=None, help="only the edits whose names contain these texts"
    )
    args = parser.parse_args()
    edits = [e for e in ALL_EDITS if not args.edits or any(t in e for t in args.edits)]
    if not edits:
        parser.error(f"no edit's name contains any of {args.edits}")
    started = time.monotonic()
    missing = missing_packages()
    if missing:
        print(f"missing packages (their photos left out): {', '.join(missing)}", file=sys.stderr)
    originals_paths, unrelated_paths = split_corpus(photo_paths(), args.originals, args.seed)
    unrelated_paths = unrelated_paths[: args.unrelated]
    originals, unrelated = _run_jobs(
        originals_paths, unrelated_paths, args.workers, args.seed, edits
    )
    good = {p.index for p in originals if p.banked.pdq and p.banked.quality >= MIN_QUALITY}
    baseline = _baseline(originals, unrelated, good)
    outcomes, bank_names, _ = _designs(originals, unrelated, good, edits)
    # ViewHasher against pdqhash itself, on the first banked photos and every banked view.
    exactness = max(
        largest_difference(decode_fast(_banked_bytes(Path(p.path))), bank_names)
        for p in originals[:5]
    )
    replayed = outcomes["today (replayed)"].recall
    differ = sum(a != b for e in edits for a, b in zip(replayed[e], baseline.ours[e], strict=True))
    if differ:
        print(
            f"note: the replay of today's rule differs from BankMatcher on {differ} copies",
            file=sys.stderr,
        )
    command = "python benchmarks/bench_pdq_recall_real.py " + " ".join(sys.argv[1:])
    text = _report(
        originals,
        unrelated,
        good,
        baseline,
        outcomes,
        command.strip(),
        time.monotonic() - started,
        edits,
    )
    text += (
        f"\nViewHasher against pdqhash on every banked view of 5 photos: largest difference "
        f"{exactness} (bits or quality points).\n"
    )
    print(text)
    if args.markdown:
        # Notes written by hand below the marker survive a re-run.
        old = args.markdown.read_text() if args.markdown.exists() else ""
        notes = old[old.index(NOTES_MARKER) :] if NOTES_MARKER in old else ""
        args.markdown.write_text(text + ("\n" + notes if notes else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
