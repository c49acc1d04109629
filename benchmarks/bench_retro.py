"""Retro-hunt: stored case hashes matched against new bank entries (exact kinds and PDQ).

Generates a case store of N files (random md5, sha1, sha256 and PDQ with its 8 turned and
mirrored variants, as a scan keeps them for every image), then banks E new entries: half by
the MD5 of a stored file, half by a PDQ a few bits from a stored one (or from a variant), and
hunts. Measures the store's write time and size per file, the hunt's time, and the memory
high-water of the hunting process (VmHWM, in a child process of its own); checks that every
planted match is found.

    python benchmarks/bench_retro.py [--files 200000] [--entries 10000] [--variants 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("rotate90", "rotate180", "rotate270", "flip_horizontal", "flip_vertical")
VARIANTS += ("transpose", "transverse", "trimmed")


def _hex(rng: np.random.Generator, count: int, size: int) -> list[str]:
    return [row.tobytes().hex() for row in rng.integers(0, 256, (count, size), dtype=np.uint8)]


def build(root: Path, files: int, entries: int, variants: int) -> dict[str, float]:
    from hashwarden._types import FileRecord
    from hashwarden.bank import NewEntry, create_bank
    from hashwarden.cases import CaseStore
    from hashwarden.signals import Signal
    from hashwarden.signals.hashing import ContentHashes

    rng = np.random.default_rng(files)
    bank = create_bank(root / "b.db")
    fingerprint = bank.fingerprint()
    start = time.perf_counter()
    store = CaseStore.open(root / "cases", create=True)
    writer = store.writer("bench")
    planted_md5: list[str] = []
    planted_pdq: list[str] = []
    step = 20_000
    for first in range(0, files, step):
        n = min(step, files - first)
        md5, sha1, sha256 = _hex(rng, n, 16), _hex(rng, n, 20), _hex(rng, n, 32)
        pdq = _hex(rng, n * (1 + variants), 32)
        for i in range(n):
            own = pdq[i * (1 + variants) : (i + 1) * (1 + variants)]
            hashes = ContentHashes(
                1000,
                md5[i],
                sha1[i],
                sha256[i],
                "image/jpeg",
                own[0],
                100,
                pdq_variants=dict(zip(VARIANTS[:variants], own[1:], strict=True)),
            )
            record = FileRecord(
                f"case/{first + i}.jpg",
                "unknown",
                1000,
                md5[i],
                sha1[i],
                sha256[i],
                own[0],
                100,
                "image/jpeg",
            )
            writer.add(record, hashes)
            if (first + i) % max(1, files // entries) == 0 and len(planted_md5) < entries // 2:
                planted_md5.append(md5[i])
            elif (first + i) % max(1, files // entries) == 1 and len(planted_pdq) < entries // 2:
                planted_pdq.append(own[-1] if variants else own[0])
    writer.close({"bank_fingerprint": fingerprint})
    write_s = time.perf_counter() - start
    store.close()
    near = []
    for value in planted_pdq:  # a few bits from the stored hash
        raw = bytearray(bytes.fromhex(value))
        raw[0] ^= 0b101
        near.append(raw.hex())
    new = [NewEntry([Signal("md5", v)], "csam-a") for v in planted_md5]
    new += [NewEntry([Signal("pdq", v)], "csam-b") for v in near]
    bank.entries.add_many(new)
    bank.close()
    size = sum(p.stat().st_size for p in (root / "cases").iterdir())
    return {
        "files": files,
        "hash_rows_per_file": 4 + variants,
        "write_s": round(write_s, 1),
        "store_bytes_per_file": round(size / files),
        "planted": len(new),
    }


def hunt(root: Path) -> None:
    """In a child process: hunt, print the figures as JSON."""
    from hashwarden.bank import open_bank
    from hashwarden.cases import CaseStore, retro_hunt

    start = time.perf_counter()
    with open_bank(root / "b.db", readonly=True) as bank, CaseStore.open(root / "cases") as store:
        result = retro_hunt(bank, store)
    seconds = time.perf_counter() - start
    status = Path("/proc/self/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    print(
        json.dumps(
            {
                "hunt_s": round(seconds, 1),
                "found": result.matched,
                "entries": result.entries,
                "vmhwm_mb": round(hwm / 1024),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--hunt", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hunt:
        hunt(args.hunt)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        figures = build(root, args.files, args.entries, args.variants)
        child = subprocess.run(
            [sys.executable, __file__, "--hunt", str(root)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures |= json.loads(child.stdout)
    print(json.dumps(figures, indent=1))
    return 0 if figures["found"] >= figures["planted"] else 1


if __name__ == "__main__":
    sys.exit(main())
