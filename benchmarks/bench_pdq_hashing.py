"""PDQ hashing throughput: hashwarden against python-threatexchange, in one run.

Corpus: generated, benign, photo-like JPEGs of 0.5 to 12 megapixels (cached in
bench-output/pdq_corpus). Measured: images per second of
- the anchor: threatexchange's PdqSignal.hash_from_file, one call per file (its API);
- hashwarden reference mode, one process (bit-exact with the reference, plus MD5/SHA-1/SHA-256);
- hashwarden fast mode on all cores (what `scan`, `hash` and `bank add-files` do by default);
and the distribution of PDQ distances between fast and reference mode. Then, whole process as
a user meets it: `threatexchange hash photo FILE...` against `hashwarden hash FOLDER`.

    python benchmarks/bench_pdq_hashing.py [--images N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from hashwarden.signals import hash_file
from hashwarden.signals.parallel import default_workers, hash_in_parallel
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

MEGAPIXELS = [0.5, 1, 2, 3, 5, 8, 12]


def corpus(count: int) -> list[Path]:
    folder = Path("bench-output") / "pdq_corpus"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        mp = MEGAPIXELS[i % len(MEGAPIXELS)]
        width = int((mp * 1e6 * 4 / 3) ** 0.5)
        height = int(width * 3 / 4)
        path = folder / f"img{i:03d}_{mp}mp.jpg"
        if not path.exists():
            path.write_bytes(jpeg_bytes(synthetic_photo(5000 + i, width, height), 70 + i % 4 * 8))
        files.append(path)
    return files


def rate(label: str, count: int, seconds: float) -> float:
    per_second = count / seconds
    print(f"{label:<48} {per_second:8.2f} images/s  ({seconds:.1f} s)")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=49)
    parser.add_argument("--quick", action="store_true", help="14 images")
    args = parser.parse_args()
    files = corpus(14 if args.quick else args.images)
    megapixels = sum(float(p.stem.split("_")[1][:-2]) for p in files)
    print(f"corpus: {len(files)} JPEGs, {megapixels:.0f} megapixels in all; {os.cpu_count()} cores")

    from threatexchange.signal_type.pdq.signal import PdqSignal

    start = time.perf_counter()
    anchor_hashes = [PdqSignal.hash_from_file(p) for p in files]
    anchor = rate(
        "python-threatexchange PdqSignal.hash_from_file", len(files), time.perf_counter() - start
    )

    start = time.perf_counter()
    reference = [hash_file(p, pdq_mode="reference") for p in files]
    ours_ref = rate("hashwarden reference mode, 1 process", len(files), time.perf_counter() - start)
    assert [h.pdq for h in reference] == anchor_hashes, "reference mode differs from the anchor"

    workers = default_workers()
    start = time.perf_counter()
    fast = [h for _, h, _ in hash_in_parallel(files, lambda p: p, workers=workers)]
    ours_fast = rate(
        f"hashwarden fast mode, {workers} processes", len(files), time.perf_counter() - start
    )

    distances = [
        (int(f.pdq, 16) ^ int(r.pdq, 16)).bit_count()
        for f, r in zip(fast, reference, strict=True)
        if f and f.pdq and r.pdq
    ]
    print(f"\nratio reference mode / anchor: {ours_ref / anchor:.2f}x (identical hashes)")
    print(f"ratio fast mode / anchor:      {ours_fast / anchor:.2f}x (target >= 5x)")
    histogram = ", ".join(f"{d}: {n}" for d, n in sorted(Counter(distances).items()))
    share = sum(d <= 8 for d in distances) / len(distances)
    print(
        f"fast vs reference PDQ distance: {{{histogram}}}; <= 8 bits on {share:.0%}, "
        f"max {max(distances)}"
    )
    whole_process(files)


def whole_process(files: list[Path]) -> None:
    """Both CLIs from start to exit over the same files (start-up, pool and output included)."""
    folder = Path("bench-output") / "pdq_corpus_whole"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    tools = Path(sys.executable).parent

    def timed(command: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    anchor = timed([str(tools / "threatexchange"), "hash", "photo", *map(str, files)])
    ours = timed([str(tools / "hashwarden"), "hash", str(folder)])
    print(f"\nwhole process, {len(files)} files: threatexchange hash photo {anchor:.1f} s,")
    print(f"hashwarden hash (MD5, SHA-1, SHA-256 and PDQ) {ours:.1f} s: {anchor / ours:.2f}x")


if __name__ == "__main__":
    main()
