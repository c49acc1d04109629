"""`hashwarden hash` of a 1 GB file (MD5, SHA-1, SHA-256) against coreutils' md5sum, sha1sum and
sha256sum run one after the other: whole processes, the file in the page cache.

Also shown: the hashing alone in this process (`hash_file`, without the CLI's start-up), in
parallel threads (as `hash` does) and in one thread with 1 MiB reads (as before), and that the
three digests agree with coreutils'. Target (issue 14): at least 2x faster than coreutils.

    python benchmarks/bench_hashing_digests.py [--size-mb 1024] [--runs 3]
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from _hashing_common import (
    HASHWARDEN,
    compare,
    large_file_arguments,
    load,
    noise_file,
    run,
    show,
    show_lanes,
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
    args = large_file_arguments(__doc__)
    with noise_file(args.size_mb) as path:
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
        show("  hash_file in process, parallel threads", *in_process(path, args.runs, threads=True))
        show("  hash_file in process, one thread (before)", *in_process(path, 1, threads=False))
        anchor, mine = (
            timings["coreutils md5sum; sha1sum; sha256sum"][0],
            timings["hashwarden hash (whole process)"][0],
        )
        print(f"ratio: hashwarden {anchor / mine:.1f}x faster than coreutils (target: 2x)")
        show_lanes(path, [])
        print(load())


if __name__ == "__main__":
    main()
