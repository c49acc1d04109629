"""What the bench_hashing_* scripts share: a large file in a temporary folder, whole-process
timings repeated and reduced to their median, and the machine's load beside them.

Beside the wall-clock time, the CPU time (user + system) of the processes: on a loaded machine
the wall clock says little about parallel threads (there is no idle core to run them on), while
the CPU time is the work done, whatever the load."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: `hashwarden` as a user runs it, with this interpreter (and the source it imports).
HASHWARDEN = [sys.executable, "-m", "hashwarden"]


def large_file_arguments(description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


@contextlib.contextmanager
def noise_file(size_mb: int) -> Iterator[Path]:
    """A file of `size_mb` MiB of noise in a temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-hashing-") as folder:
        path = write_random_file(Path(folder) / "large.bin", size_mb * 1024 * 1024)
        print(f"{size_mb} MiB of noise, page-cached; {load()}")
        yield path


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


def run(command: Sequence[str]) -> tuple[float, str, float]:
    """(seconds, standard output, CPU seconds) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, done.stdout, cpu


Timing = tuple[float, list[float], float]


def compare(cases: dict[str, Sequence[Sequence[str]]], runs: int) -> dict[str, Timing]:
    """For each case (commands run one after the other): the median wall time over `runs`,
    every run's, and the median CPU time, printed and returned. The cases take turns, run after run, so a load that
    changes meanwhile weighs on all of them alike. (CPU time counts the processes waited for:
    a pool's workers, children of its fork server, are not.)"""
    walls: dict[str, list[float]] = {label: [] for label in cases}
    cpus: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, commands in cases.items():
            timings = [run(c) for c in commands]
            walls[label].append(sum(t[0] for t in timings))
            cpus[label].append(sum(t[2] for t in timings))
    found = {
        label: (statistics.median(walls[label]), walls[label], statistics.median(cpus[label]))
        for label in cases
    }
    for label, timing in found.items():
        show(label, *timing)
    return found


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def show(label: str, seconds: float, every: list[float], cpu: float | None = None) -> None:
    runs = ", ".join(f"{s:.2f}" for s in every)
    used = f"  CPU {cpu:6.2f} s" if cpu is not None else " " * 14
    print(f"{label:<50} {seconds:7.2f} s{used}   (runs: {runs})", flush=True)


def lane_cpu(path: Path, extra_kinds: Sequence[str]) -> dict[str, float]:
    """CPU seconds of each digest and hasher alone over the file, in this process (the time to
    read the file, measured apart, taken off each): what each of `hash`'s threads has to do."""
    import hashlib

    from hashwarden.signals import default_registry

    size = path.stat().st_size
    makers: dict[str, Callable[[], Any]] = {
        "read": lambda: None,
        "md5": hashlib.md5,
        "sha1": hashlib.sha1,
        "sha256": hashlib.sha256,
    }
    for hasher in default_registry().hashers_for(extra_kinds):
        makers[hasher.name] = lambda h=hasher: h.start(size=size, name=path.name)
    cpu: dict[str, float] = {}
    for name, make in makers.items():
        lane = make()
        start = time.process_time()
        with path.open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                if lane is not None:
                    lane.update(chunk)
        if hasattr(lane, "result"):
            lane.result()
        cpu[name] = time.process_time() - start - cpu.get("read", 0.0)
    return cpu


def show_lanes(path: Path, extra_kinds: Sequence[str], cores: int = 2) -> None:
    """Print each thread's work alone, and the wall time the lanes take on `cores` idle cores:
    the longest lane, or all the work shared evenly, whichever is longer (the read runs beside
    them in the main thread)."""
    cpu = lane_cpu(path, extra_kinds)
    print("CPU of each thread's work alone:", ", ".join(f"{k} {v:.2f} s" for k, v in cpu.items()))
    wall = max(max(cpu.values()), sum(cpu.values()) / cores)
    print(f"projected on {cores} idle cores: {wall:.2f} s of hashing")
