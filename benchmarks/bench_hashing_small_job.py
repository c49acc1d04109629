"""`hashwarden hash` of one photo, whole process, against `hashwarden --help` (the start-up every
command pays): a small job runs in the calling process, without a pool's start-up. Also shown:
the same with `--workers 2`, a pool of two processes (what one photo cost before); the floor
under any Python PDQ of a photo, a process that only imports numpy, pdqhash and Pillow's JPEG
plugin; and the anchor, python-threatexchange's `threatexchange hash photo` (PDQ of the whole
picture, as `--pdq-mode reference` computes it, without the digests), beside ours in that
mode. Target (issue 14): under twice `--help`.

    python benchmarks/bench_hashing_small_job.py [--runs 5]

The sources are compiled first (`compileall`), as pip compiles a package it installs (with
PYTHONDONTWRITEBYTECODE set every run would otherwise compile them again).
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import sys
import tempfile
from pathlib import Path

from _hashing_common import HASHWARDEN, compare, load

import hashwarden
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

#: What `hash` sets (numpy does no linear algebra there), then the imports any PDQ of a JPEG needs.
FLOOR = (
    "import os; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1');"
    " import numpy, pdqhash, PIL.Image, PIL.JpegImagePlugin"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(str(Path(hashwarden.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-hashing-") as folder:
        photo = Path(folder) / "IMG_0001.jpg"
        photo.write_bytes(jpeg_bytes(synthetic_photo(14, 4000, 3000), 88))  # 12 MP, generated
        print(f"one 12-megapixel JPEG of {photo.stat().st_size / 1e6:.1f} MB; {load()}")
        cases = {
            "hashwarden --help": [[*HASHWARDEN, "--help"]],
            "hashwarden hash photo.jpg (in process)": [[*HASHWARDEN, "hash", str(photo)]],
            "hashwarden hash --workers 2 photo.jpg (a pool)": [
                [*HASHWARDEN, "hash", "--workers", "2", str(photo)]
            ],
            "import numpy, pdqhash, Pillow's JPEG (the floor)": [[sys.executable, "-c", FLOOR]],
            "hashwarden hash --pdq-mode reference photo.jpg": [
                [*HASHWARDEN, "hash", "--pdq-mode", "reference", str(photo)]
            ],
        }
        anchor = shutil.which("threatexchange") or str(
            Path(sys.executable).parent / "threatexchange"
        )
        if Path(anchor).exists():
            cases["threatexchange hash photo photo.jpg (anchor)"] = [
                [anchor, "hash", "photo", str(photo)]
            ]
        else:
            print("threatexchange (python-threatexchange) is not installed: no anchor")
        timings = compare(cases, args.runs)
        helped, hashed = (
            timings["hashwarden --help"],
            timings["hashwarden hash photo.jpg (in process)"],
        )
        print(f"ratio: hash of one photo {hashed[0] / helped[0]:.2f}x --help (target: < 2x)")
        floor = timings["import numpy, pdqhash, Pillow's JPEG (the floor)"]
        print(f"the floor alone: {floor[0] / helped[0]:.2f}x --help")
        if "threatexchange hash photo photo.jpg (anchor)" in timings:
            theirs = timings["threatexchange hash photo photo.jpg (anchor)"][0]
            ours = timings["hashwarden hash --pdq-mode reference photo.jpg"][0]
            print(
                f"ratio: threatexchange hash photo / hashwarden hash: {theirs / hashed[0]:.2f}x"
                f" (fast mode), {theirs / ours:.2f}x (reference mode)"
            )
        print(load())


if __name__ == "__main__":
    main()
