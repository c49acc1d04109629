"""What views cost (issue 15): bank and index size, and hashing time, with and without them.

The same photographs are banked twice, as `bank add-files` banks them today (with views) and
as it did before (hashes only), and hashed as a query twice, as `scan` hashes a file against a
bank with views (turns, trims and query views) and without. Reported: the bank file's size, the
PDQ rows the matcher indexes and the saved index's size, and the CPU time of hashing, each
with views against without. Stock photographs of Debian/PyPI packages (benchmarks/photos.py)
at most 1280 pixels a side, or generated photos where none are installed.

    python benchmarks/bench_views_cost.py [--files 60]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import BankMatcher
from hashwarden.index.saved import index_folder, keep_index_current
from hashwarden.signals import Signal, hash_bytes
from hashwarden.signals.views import BANK_VIEWS, QUERY_VIEWS
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

MAX_SIDE = 1280


def _photos(count: int) -> tuple[list[bytes], str]:
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from photos import photo_paths

        paths = photo_paths()[:count]
    except Exception:  # no stock photos here: generated ones
        paths = []
    if not paths:
        return [jpeg_bytes(synthetic_photo(s, 1280, 960)) for s in range(count)], "generated"
    found = []
    for path in paths:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=92)
            found.append(out.getvalue())
    return found, "stock"


def _cpu(work: list[bytes], **options: object) -> tuple[float, list]:
    start = time.process_time()
    done = [hash_bytes(data, **options) for data in work]  # type: ignore[arg-type]
    return time.process_time() - start, done


def _size(folder: Path | None) -> int:
    return sum(p.stat().st_size for p in folder.iterdir()) if folder else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=60)
    args, _ = parser.parse_known_args()
    photos, kind = _photos(args.files)
    _cpu(photos[:2], views=BANK_VIEWS)  # warm caches and imports
    bank_plain, _ = _cpu(photos)
    bank_views, hashed = _cpu(photos, views=BANK_VIEWS)
    query_plain, _ = _cpu(photos, variants=True)
    query_views, _ = _cpu(photos, variants=True, views=QUERY_VIEWS)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, with_views in (("without", False), ("with", True)):
            path = Path(tmp) / f"{name}.db"
            with create_bank(path) as bank:
                for hashes in hashed:
                    signals = [Signal(k, v) for k, v in hashes.signals().items()]
                    entry = bank.entries.add(NewEntry(signals, "csam-a"))
                    if with_views and hashes.pdq_views:
                        bank.views.add({entry: hashes.pdq_views})
                keep_index_current(bank)
                matcher = BankMatcher(bank)
                rows = len(matcher.pdq_index) + len(matcher.indexes.views)
                saved = _size(index_folder(bank))
            # Closed: the write-ahead log is folded into the file.
            sizes[name] = (path.stat().st_size, rows, saved)
    kept = sum(len(h.pdq_views) for h in hashed) / len(hashed)
    # Each PDQ index saves 8 MB of bucket offsets whatever its size, then about 96 bytes a row.
    print(f"{len(photos)} {kind} photos; views banked per entry {kept:.1f} of {len(BANK_VIEWS)}")
    print("| | without views | with views | factor |")
    print("| --- | --- | --- | --- |")
    for label, i in (("bank file (bytes)", 0), ("PDQ rows indexed", 1), ("saved index (bytes)", 2)):
        a, b = sizes["without"][i], sizes["with"][i]
        print(f"| {label} | {a} | {b} | x{b / a:.2f} |")
    n = len(photos)
    print(
        f"| banking a file (CPU ms) | {bank_plain / n * 1000:.0f} | {bank_views / n * 1000:.0f} "
        f"| x{bank_views / bank_plain:.2f} |"
    )
    print(
        f"| hashing a query (CPU ms) | {query_plain / n * 1000:.0f} | "
        f"{query_views / n * 1000:.0f} | x{query_views / query_plain:.2f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
