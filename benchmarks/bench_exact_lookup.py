"""Exact-digest look-up (md5): hashwarden's in-memory tables against python-threatexchange's
TrivialSignalTypeIndex (a dict of lists) and against the bank's SQL look-up (the path the
matcher used before, one `value IN (...)` query).

Each side runs in its own process on the same generated digests (random, seed fixed), measuring
build time, resident memory added, look-ups a second one at a time and in one batch (half the
queries banked, half not), and that every side finds exactly the banked half.

    python benchmarks/bench_exact_lookup.py [--size 1000000] [--queries 200000] [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SINGLE = 20_000


def rss_mb() -> float:
    """Resident memory, after handing freed heap back (glibc keeps it otherwise)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def data(size: int, queries: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(size)
    raw = rng.integers(0, 256, size=(size + queries // 2, 16), dtype=np.uint8)
    hexes = [row.tobytes().hex() for row in raw]
    picks = rng.choice(size, queries - queries // 2, replace=False)
    asked = [hexes[i] for i in picks] + hexes[size:]
    return hexes[:size], asked


def run_side(side: str, size: int, queries: int) -> dict[str, float | None]:
    banked, asked = data(size, queries)
    expected = queries - queries // 2
    if side == "hashwarden":
        from hashwarden.index.exact import ExactTable  # imported before the baseline
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    batch_found: int | None = None
    if side == "anchor":
        from threatexchange.signal_type.signal_base import TrivialSignalTypeIndex

        anchor: TrivialSignalTypeIndex[int] = TrivialSignalTypeIndex()
        for i, value in enumerate(banked):
            anchor.add(value, i)
        build = time.perf_counter() - start

        def single(value: str) -> int:
            return len(anchor.query(value))

        batch = None
    elif side == "sqlite":
        folder = tempfile.mkdtemp()
        conn = sqlite3.connect(Path(folder) / "b.db")
        conn.execute(
            "CREATE TABLE signals (kind TEXT NOT NULL, value TEXT NOT NULL,"
            " entry_id INTEGER NOT NULL, PRIMARY KEY (kind, value)) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO signals VALUES ('md5', ?, ?)", ((v, i) for i, v in enumerate(banked))
        )
        conn.commit()
        build = time.perf_counter() - start

        def single(value: str) -> int:
            sql = "SELECT value, entry_id FROM signals WHERE kind = ? AND value IN (?)"
            return len(conn.execute(sql, ("md5", value)).fetchall())

        start = time.perf_counter()
        batch_found = 0
        for at in range(0, queries, 900):  # the bank's chunks, under SQLite's parameter limit
            chunk = asked[at : at + 900]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT value, entry_id FROM signals WHERE kind = ? AND value IN ({marks})"
            batch_found += len(conn.execute(sql, ["md5", *chunk]).fetchall())
        batch = queries / (time.perf_counter() - start)
    else:
        table = ExactTable(32)
        table.add(banked, list(range(size)))
        table.compact()
        build = time.perf_counter() - start

        def single(value: str) -> int:
            return len(table.find_one(value))

        start = time.perf_counter()
        batch_found = len(table.find(asked)[1])
        batch = queries / (time.perf_counter() - start)
    memory = rss_mb() - before if side != "sqlite" else None
    sample = asked[: SINGLE // 2] + asked[-SINGLE // 2 :]
    start = time.perf_counter()
    found = sum(single(v) for v in sample)
    single_rate = len(sample) / (time.perf_counter() - start)
    correct = found == SINGLE // 2 and batch_found in (None, expected)
    return {
        "build_s": build,
        "memory_mb": memory,
        "single_per_s": single_rate,
        "batch_per_s": batch,
        "correct": 1.0 if correct else 0.0,
    }


def _show(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    if key == "correct":
        return "yes" if value else "NO"
    return f"{value:,.0f}" if key.endswith("per_s") else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="100,000 digests")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # run_all.py passes every script the same options
    size = 100_000 if args.quick else args.size
    if args.side:
        print(json.dumps(run_side(args.side, size, args.queries)))
        return
    print(f"\n{size:,} md5 digests, {args.queries:,} queries (half banked)")
    results = {}
    for side in ("hashwarden", "anchor", "sqlite"):
        command = [sys.executable, __file__, "--side", side, "--size", str(size)]
        command += ["--queries", str(args.queries)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {'':<24}{'threatexchange':>16}{'bank SQL':>14}{'hashwarden':>14}{'ratio':>16}")
    ours, theirs, sql = results["hashwarden"], results["anchor"], results["sqlite"]
    for key, label in (
        ("build_s", "build (s)"),
        ("memory_mb", "memory (MB)"),
        ("single_per_s", "single look-ups /s"),
        ("batch_per_s", "batched look-ups /s"),
        ("correct", "all found, none wrong"),
    ):
        mine, other, base = ours[key], theirs[key], sql[key]
        ratio = ""
        if key in ("build_s", "memory_mb") and mine and other:
            ratio = f"{other / mine:.1f}x vs anchor"
        elif key.endswith("per_s") and mine and (other or base):
            ratio = f"{mine / (other or base):.1f}x vs {'anchor' if other else 'SQL'}"
        print(
            f"  {label:<24}{_show(other, key):>16}{_show(base, key):>14}"
            f"{_show(mine, key):>14}{ratio:>16}"
        )


if __name__ == "__main__":
    main()
