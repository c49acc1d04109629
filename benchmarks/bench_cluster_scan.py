"""`scan --cluster` against a local scan on the same cores: a Dask LocalCluster of 2 worker
processes (1 thread each) on loopback against the local pool of 2 hashing processes, over the
same generated benign photos; checks the records are identical and reports files a second.

    python benchmarks/bench_cluster_scan.py [--files 400] [--size 640x480]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))

    from distributed import LocalCluster

    from hashwarden.bank import create_bank
    from hashwarden.cluster import connect
    from hashwarden.scan import run_scan
    from hashwarden.synthetic import jpeg_bytes, synthetic_photo

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        evidence = root / "evidence"
        evidence.mkdir()
        for seed in range(args.files):
            photo = synthetic_photo(seed, width, height)
            (evidence / f"{seed:05}.jpg").write_bytes(jpeg_bytes(photo))
        create_bank(root / "b.db").close()
        start = time.perf_counter()
        local = run_scan([evidence], root / "b.db", workers=2)
        local_s = time.perf_counter() - start
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            connect(cluster.scheduler_address) as client,
        ):
            run_scan([evidence], root / "b.db", hasher=client.hash_in_parallel)  # warm up
            start = time.perf_counter()
            remote = run_scan([evidence], root / "b.db", hasher=client.hash_in_parallel)
            cluster_s = time.perf_counter() - start
    same = [f.to_json() for f in remote.files] == [f.to_json() for f in local.files]
    print(
        json.dumps(
            {
                "files": args.files,
                "size": args.size,
                "local_files_per_s": round(args.files / local_s, 1),
                "cluster_files_per_s": round(args.files / cluster_s, 1),
                "cluster_vs_local": round(local_s / cluster_s, 2),
                "identical": same,
            },
            indent=1,
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
