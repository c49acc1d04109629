"""The demo: a synthetic, benign case scanned against a synthetic bank.

Everything here is generated test data: abstract images of gradients and shapes. The bank
labels some of them with categories only so that the pipeline has something to find.
"""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hashwarden.bank import NewEntry, create_bank
from hashwarden.reports.statistics import Event
from hashwarden.signals import Signal, hash_bytes
from hashwarden.synthetic import TRANSFORMS, jpeg_bytes, png_bytes, synthetic_photo, transform

__all__ = ["DemoCase", "build_demo_case", "demo_history"]

_KNOWN = [
    (101, "csam-a", "demo-series-red"),
    (102, "csam-b", "demo-series-red"),
    (103, "csam-c", None),
    (104, "exploitive", "demo-series-blue"),
    (105, "csam", None),
    (106, "cgi", None),
]
_NEW_SERIES = [201, 202, 203]
_SINGLE_NEW = [301, 302, 303, 304]


@dataclass
class DemoCase:
    evidence: Path
    bank: Path
    known_originals: int
    expected_matched: int


def _series_frame(base_seed: int, frame: int) -> bytes:
    """One of several near-identical shots of a scene: same image, small shift and brightness."""
    image = synthetic_photo(base_seed)
    w, h = image.size
    shifted = image.crop((frame * 2, frame, w - 6 + frame * 2, h - 3 + frame))
    return jpeg_bytes(shifted, quality=88 - frame * 3)


def build_demo_case(root: Path) -> DemoCase:
    """Write evidence/ and bank.db under `root` (which must not hold an older demo)."""
    evidence = root / "evidence"
    (evidence / "DCIM").mkdir(parents=True)
    (evidence / "Downloads").mkdir()
    (evidence / "System").mkdir()
    bank_path = root / "bank.db"

    entries = []
    matched = 0
    transforms = list(TRANSFORMS)
    for number, (seed, category, series) in enumerate(_KNOWN):
        original = synthetic_photo(seed)
        signals = hash_bytes(jpeg_bytes(original)).signals()
        entries.append(
            NewEntry(
                [Signal(k, v) for k, v in signals.items()],
                category,
                series,
                source="demo-hotline",
                note="synthetic demo image",
            )
        )
        name = transforms[number % len(transforms)]
        copy = transform(original, name)
        (evidence / "DCIM" / f"IMG_{seed:04d}_{name}.jpg").write_bytes(jpeg_bytes(copy, 80))
        matched += 1
    # One exact copy of a banked original, as downloaded.
    (evidence / "Downloads" / "saved.jpg").write_bytes(jpeg_bytes(synthetic_photo(_KNOWN[0][0])))
    matched += 1
    for frame, seed in enumerate(_NEW_SERIES):
        (evidence / "DCIM" / f"IMG_{seed:04d}.jpg").write_bytes(_series_frame(200, frame))
    for seed in _SINGLE_NEW:
        (evidence / "DCIM" / f"IMG_{seed:04d}.jpg").write_bytes(jpeg_bytes(synthetic_photo(seed)))

    # Known-good: "operating system" files that every machine has.
    system_files = {
        "readme.txt": b"Synthetic operating-system file.\n",
        "logo.png": png_bytes(synthetic_photo(900, 320, 240)),
    }
    for name, data in system_files.items():
        (evidence / "System" / name).write_bytes(data)

    # An archive holding a known image, an unknown one and a nested tar.
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        data = jpeg_bytes(transform(synthetic_photo(_KNOWN[1][0]), "greyscale"))
        info = tarfile.TarInfo("nested/old_photo.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    matched += 1
    with zipfile.ZipFile(evidence / "Downloads" / "holiday.zip", "w") as archive:
        archive.writestr("photos/beach.jpg", jpeg_bytes(synthetic_photo(_KNOWN[2][0]), 70))
        archive.writestr("photos/sunset.jpg", jpeg_bytes(synthetic_photo(401)))
        archive.writestr("backup.tar", inner.getvalue())
    matched += 1

    # Broken input the scan must survive and report.
    whole = jpeg_bytes(synthetic_photo(501))
    (evidence / "Downloads" / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (evidence / "Downloads" / "empty.dat").write_bytes(b"")

    with create_bank(bank_path) as bank:
        bank.entries.add_many(entries, actor="demo", action="entries.import")
        bank.known_good.add(
            "demo-os-baseline",
            [
                Signal(k, v)
                for data in system_files.values()
                for k, v in hash_bytes(data).signals().items()
                if k != "pdq"
            ],
            source="demo",
            actor="demo",
        )
    return DemoCase(evidence, bank_path, len(_KNOWN), matched)


def demo_history() -> list[Event]:
    """A synthetic year of statistics events, so the demo's report has something to show."""
    rng = random.Random(2026)
    channels = ["p2p", "p2p", "p2p", "darknet", "social_media", "web", "device"]
    categories = ["csam-a", "csam-b", "csam-c", "csam", "exploitive"]
    events = []
    for month in range(1, 12):
        for _ in range(rng.randint(8, 20)):
            events.append(
                Event(
                    rng.choice(channels),
                    "known",
                    rng.choice(categories),
                    rng.choice([None, "demo-series-red", "demo-series-blue"]),
                    rng.random() < 0.2,
                    rng.choice(["SE", "NO", "DK", "FI"]),
                    rng.randint(1, 30),
                    f"2026-{month:02d}-{rng.randint(1, 28):02d}T12:00:00Z",
                )
            )
        events.append(
            Event(
                "p2p",
                "new",
                region="SE",
                count=rng.randint(1, 9),
                at=f"2026-{month:02d}-15T12:00:00Z",
            )
        )
        events.append(
            Event(
                "isp_block",
                "blocked",
                count=rng.randint(30_000, 60_000),
                at=f"2026-{month:02d}-28T12:00:00Z",
            )
        )
    return events
