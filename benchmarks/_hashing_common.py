"""What the bench_hashing_* scripts share: a large file in a temporary folder, whole-process
timings repeated and reduced to their median, and the machine's load beside them."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: `hashwarden` as a user runs it, with this interpreter (and the source it imports).
HASHWARDEN = [sys.executable, "-m", "hashwarden"]


def write_random_file(path: Path, size: int) -> Path:
    """`size` bytes of noise (seeded), written in 64 MiB blocks, then read once so that every
    side reads it from the page cache."""
    rng = np.random.default_rng(14)
    block = 64 * 1024 * 1024
    with path.open("wb") as out:
        left = size
        while left:
            take = min(block, left)
            out.write(rng.integers(0, 256, take, dtype=np.uint8).tobytes())
            left -= take
    with path.open("rb") as warm:
        while warm.read(block):
            pass
    return path


def run(command: Sequence[str]) -> tuple[float, str]:
    """(seconds, standard output) of one whole process."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def median_seconds(commands: Sequence[Sequence[str]], runs: int) -> tuple[float, list[float]]:
    """Median over `runs` of the time the commands take one after the other, and every run."""
    totals = [sum(run(c)[0] for c in commands) for _ in range(runs)]
    return statistics.median(totals), totals


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def show(label: str, seconds: float, every: list[float]) -> None:
    runs = ", ".join(f"{s:.2f}" for s in every)
    print(f"{label:<52} {seconds:7.2f} s   (runs: {runs})", flush=True)
