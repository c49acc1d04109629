"""`hashwarden hash` of a 1 GB file (MD5, SHA-1, SHA-256) against coreutils' md5sum, sha1sum and
sha256sum run one after the other: whole processes, the file in the page cache.

Also shown: the hashing alone in this process (`hash_file`, without the CLI's start-up), in
parallel threads (as `hash` does) and in one thread with 1 MiB reads (as before), and that the
three digests agree with coreutils'. Target (issue 14): at least 2x faster than coreutils.

    python benchmarks/bench_hashing_digests.py [--size-mb 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _hashing_common import (
    HASHWARDEN,
    compare,
    lane_cpu,
    load,
    projected,
    run,
    show,
    write_random_file,
)

from hashwarden.signals import hash_file, hashing

COREUTILS = ("md5sum", "sha1sum", "sha256sum")


def in_process(path: Path, runs: int, *, threads: bool) -> tuple[float, list[float], float]:
    saved = hashing.PARALLEL_FROM_BYTES
    hashing.PARALLEL_FROM_BYTES = saved if threads else 2**62
    walls, cpus = [], []
    try:
        for _ in range(runs):
            start, used = time.perf_counter(), time.process_time()
            hash_file(path, extra_kinds=())
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - used)
    finally:
        hashing.PARALLEL_FROM_BYTES = saved
    return statistics.median(walls), walls, statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hashing-") as folder:
        path = write_random_file(Path(folder) / "large.bin", args.size_mb * 1024 * 1024)
        print(f"{args.size_mb} MiB of noise, page-cached; {load()}")
        ours = run([*HASHWARDEN, "hash", "--json", str(path)])[1]
        for tool in COREUTILS:
            digest = run([tool, str(path)])[1].split()[0]
            assert f'"{tool[:-3]}": "{digest}"' in ours, f"{tool} disagrees: {ours}"
        print("digests agree with coreutils")
        timings = compare(
            {
                "coreutils md5sum; sha1sum; sha256sum": [[t, str(path)] for t in COREUTILS],
                "hashwarden hash (whole process)": [[*HASHWARDEN, "hash", str(path)]],
                "hashwarden --help (its start-up)": [[*HASHWARDEN, "--help"]],
            },
            args.runs,
        )
        for label, timing in timings.items():
            show(label, *timing)
        anchor = timings["coreutils md5sum; sha1sum; sha256sum"]
        mine = timings["hashwarden hash (whole process)"]
        show("  hash_file in process, parallel threads", *in_process(path, args.runs, threads=True))
        show("  hash_file in process, one thread (before)", *in_process(path, 1, threads=False))
        print(f"ratio: hashwarden {anchor[0] / mine[0]:.1f}x faster than coreutils (target: 2x)")
        lanes = lane_cpu(path, [])
        print(
            "CPU of each thread's work alone:",
            ", ".join(f"{k} {v:.2f} s" for k, v in lanes.items()),
        )
        print(f"projected on 2 idle cores: {projected(lanes, 2):.2f} s of hashing")
        print(load())


if __name__ == "__main__":
    main()
