"""PDQ near-duplicate search: hashwarden's index against python-threatexchange's PDQIndex.

Each side runs in its own process on the same generated hashes (uniformly random PDQ hashes,
seed fixed), measuring build time, resident memory added by the index, single-query latency
for random queries and for near duplicates (banked hashes with 1 to 30 bits flipped; median
of 300), batched latency (hashwarden; total / 300), and agreement with a brute-force scan at
distance 31.

    python benchmarks/bench_pdq_index.py [--sizes 1000000] [--anchor-max 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time

import numpy as np

QUERIES = 300


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def data(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(size)
    words = rng.integers(0, 2**64 - 1, size=(size, 4), dtype=np.uint64, endpoint=True)
    picks = rng.integers(0, size, QUERIES)
    near = words[picks].copy()
    for row in range(QUERIES):
        for bit in rng.choice(256, int(rng.integers(1, 31)), replace=False):
            near[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    random = rng.integers(0, 2**64 - 1, size=(QUERIES, 4), dtype=np.uint64, endpoint=True)
    return words, near, random


def to_hex(words: np.ndarray) -> list[str]:
    return [row.astype(">u8").tobytes().hex() for row in words]


def brute(words: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    out = []
    for q in queries:
        d = np.bitwise_count(words ^ q).sum(axis=1)
        out.append(sorted(np.flatnonzero(d <= 31).tolist()))
    return out


def run_side(side: str, size: int) -> dict[str, object]:
    words, near, random = data(size)
    near_hex, random_hex = to_hex(near), to_hex(random)
    truth = brute(words, near)
    if side == "anchor":
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        entries = list(zip(to_hex(words), range(size), strict=True))
        del words
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        index = PDQIndex(entries)
        build = time.perf_counter() - start
        del entries
        gc.collect()

        def single(q: str) -> list[int]:
            return sorted(m.metadata for m in index.query(q))

        batch = None
    else:
        from hashwarden.index.pdq import PdqIndex

        gc.collect()
        # The packed hashes are generated before the baseline but kept by the index: count them.
        before = rss_mb() - words.nbytes / 1e6
        start = time.perf_counter()
        ours = PdqIndex.from_words(np.arange(size), words)
        build = time.perf_counter() - start
        del words
        gc.collect()

        def single(q: str) -> list[int]:
            return sorted(i for i, _ in ours.query(q, 31))

        start = time.perf_counter()
        ours.query_many(near_hex, 31)
        batch = (time.perf_counter() - start) / QUERIES * 1e3
    memory = rss_mb() - before
    timings = {}
    for name, queries in (("near", near_hex), ("random", random_hex)):
        # The median: on a shared machine a few queries stall behind other jobs.
        results, times = [], []
        for q in queries:
            start = time.perf_counter()
            results.append(single(q))
            times.append(time.perf_counter() - start)
        timings[name] = float(np.median(times)) * 1e3
        if name == "near":
            agreement = sum(r == t for r, t in zip(results, truth, strict=True)) / QUERIES
    return {
        "build_s": build,
        "memory_mb": memory,
        "near_ms": timings["near"],
        "random_ms": timings["random"],
        "batch_ms": batch,
        "agreement": agreement,
    }


def _show(value: object, key: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if key == "agreement" else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--anchor-max", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 hashes")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.size)))
        return
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        print(f"\n{size:,} hashes, {QUERIES} queries each kind, threshold 31")
        results = {}
        for side in ("hashwarden", "anchor"):
            if side == "anchor" and size > args.anchor_max:
                print(f"  anchor skipped at this size (--anchor-max {args.anchor_max})")
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--side", side, "--size", str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[side] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {'':<22}{'python-threatexchange':>22}{'hashwarden':>12}{'ratio':>8}")
        ours = results["hashwarden"]
        theirs = results.get("anchor")
        for key, label in (
            ("build_s", "build (s)"),
            ("memory_mb", "index memory (MB)"),
            ("near_ms", "near-dup, median (ms)"),
            ("random_ms", "random, median (ms)"),
            ("batch_ms", "batched, per query (ms)"),
            ("agreement", "= brute force"),
        ):
            mine = ours[key]
            other = theirs[key] if theirs else None
            ratio = (
                f"{other / mine:7.1f}x"
                if isinstance(other, float)
                and isinstance(mine, float)
                and mine
                and key != "agreement"
                else ""
            )
            print(f"  {label:<22}{_show(other, key):>22}{_show(mine, key):>12}{ratio:>8}")


if __name__ == "__main__":
    main()
