"""`hashwarden hash --p2p` of a 1 GB file (MD5, SHA-1, SHA-256 and ed2k, TTH, BitTorrent v1
and v2) against `rhash --ed2k --tth --btih` (the P2P identifiers alone): whole processes, the
file in the page cache; the identifiers are checked to agree. Target (issue 14): within 1.5x
of rhash. Also shown: `hash` without `--p2p`, which no longer computes them.

    python benchmarks/bench_hashing_p2p.py [--size-mb 1024] [--runs 3]
"""

from __future__ import annotations

import json

from _hashing_common import (
    HASHWARDEN,
    compare,
    large_file_arguments,
    load,
    noise_file,
    run,
    show_lanes,
)


def main() -> None:
    args = large_file_arguments(__doc__)
    with noise_file(args.size_mb) as path:
        ours = json.loads(run([*HASHWARDEN, "hash", "--json", "--p2p", str(path)])[1])
        printed = run(["rhash", "--printf", "%{ed2k} %{tth} %{btih}", str(path)])[1].split()
        assert [ours["ed2k"], ours["tth"].lower(), ours["btih"]] == printed, (ours, printed)
        print("ed2k, tth and btih agree with rhash")
        timings = compare(
            {
                "rhash --ed2k --tth --btih": [["rhash", "--ed2k", "--tth", "--btih", str(path)]],
                "hashwarden hash --p2p (also md5, sha1, sha256)": [
                    [*HASHWARDEN, "hash", "--p2p", str(path)]
                ],
                "hashwarden hash (no P2P identifiers)": [[*HASHWARDEN, "hash", str(path)]],
                "hashwarden --help (the start-up in both)": [[*HASHWARDEN, "--help"]],
            },
            args.runs,
        )
        anchor = timings["rhash --ed2k --tth --btih"][0]
        mine = timings["hashwarden hash --p2p (also md5, sha1, sha256)"][0]
        print(f"ratio: hashwarden --p2p {mine / anchor:.2f}x rhash's time (target: <= 1.5x)")
        show_lanes(path, ["ed2k", "tth", "btih", "btmh", "bt_root"])
        print(load())


if __name__ == "__main__":
    main()
