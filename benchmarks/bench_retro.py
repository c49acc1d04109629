"""Retro-hunt: stored case hashes matched against new bank entries (exact kinds and PDQ).

Generates a case store of N files (random md5, sha1, sha256 and PDQ with its 8 turned and
mirrored variants, as a scan keeps them for every image), then banks E new entries: half by
the MD5 of a stored file, half by a PDQ a few bits from a stored one (or from a variant), and
hunts. Measures the store's write time and size per file, the hunt's time, and the memory
high-water of the hunting process (VmHWM, in a child process of its own); checks that every
planted match is found.

    python benchmarks/bench_retro.py [--files 200000] [--entries 10000] [--variants 8]

`--hashes H` (10 million for the issue's target) writes the store through `bulk_store`, a
helper of this benchmark only: the files' rows straight into `cases.db` and their digests and
PDQ straight into the scan's columns (`hashwarden.cases.columns`), without the per-hash rows
of `hashes` a scan writes too (which only the P2P kinds are matched from); H / (4 + variants)
files. Its entries are by the md5, sha1 or sha256 of a stored file (a third each) and, a
share `--pdq-share` (half) of them, by a PDQ 0 to 31 bits from a stored one or a variant. Store writing and hunting each run in a
child process of their own (time, VmHWM).

    python benchmarks/bench_retro.py --hashes 10000000 [--entries 10000] [--pdq-share 0.5]
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
    cpu = time.process_time()
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
    write_cpu = time.process_time() - cpu
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
    size = sum(p.stat().st_size for p in (root / "cases").rglob("*") if p.is_file())
    columns = sum(p.stat().st_size for p in (root / "cases" / "columns").rglob("*") if p.is_file())
    return {
        "files": files,
        "hash_rows_per_file": 4 + variants,
        "write_s": round(write_s, 1),
        "write_cpu_s": round(write_cpu, 1),
        "columns_bytes_per_file": round(columns / files),
        "store_bytes_per_file": round(size / files),
        "planted": len(new),
    }


def _vmhwm_mb() -> int:
    status = Path("/proc/self/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return round(hwm / 1024)


def bulk_store(
    root: Path, files: int, entries: int, variants: int, pdq_share: float = 0.5
) -> dict[str, float]:
    """The store of `files` generated image files written straight to rows and columns (see
    the module's docstring), and a bank of `entries` new entries planted among them."""
    from hashwarden.bank import NewEntry, create_bank
    from hashwarden.cases import CaseStore
    from hashwarden.cases.columns import write_segment
    from hashwarden.signals import Signal

    rng = np.random.default_rng(files)
    exact_n = entries - round(entries * pdq_share)
    planted = {  # file index -> what is planted there
        int(i): kind
        for i, kind in zip(
            rng.choice(files, entries, replace=False),
            [("md5", "sha1", "sha256")[i % 3] for i in range(exact_n)]
            + ["pdq"] * (entries - exact_n),
            strict=True,
        )
    }
    bank = create_bank(root / "b.db")
    fingerprint = bank.fingerprint()
    start = time.perf_counter()
    cpu = time.process_time()
    store = CaseStore.open(root / "cases", create=True)
    writer = store.writer("bench")
    folder = store.columns(writer.scan_id, partial=True)
    folder.mkdir(mode=0o700, parents=True)
    new: list[NewEntry] = []
    names = ["", *VARIANTS[:variants]]
    per_file = 1 + variants
    step = 10_000  # files a segment, as a scan writes them
    for first in range(0, files, step):
        n = min(step, files - first)
        with store.db.transaction() as db:
            (base,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM files").fetchone()
            ids = np.arange(base + 1, base + 1 + n, dtype=np.int64)
            db.executemany(
                "INSERT INTO files(id, scan_id, path, size, status, media_type, pdq_quality)"
                " VALUES (?, ?, ?, 1000, 'unknown', 'image/jpeg', 100)",
                [(int(i), writer.scan_id, f"case/{first + k}.jpg") for k, i in enumerate(ids)],
            )
        digests = {
            k: rng.integers(0, 256, (n, size), dtype=np.uint8)
            for k, size in (("md5", 16), ("sha1", 20), ("sha256", 32))
        }
        pdq = rng.integers(0, 256, (n * per_file, 32), dtype=np.uint8)
        arrays = {}
        for kind, values in digests.items():
            arrays[f"{kind}.file"] = ids
            arrays[kind] = values
        arrays |= {
            "pdq.file": np.repeat(ids, per_file),
            "pdq": pdq,
            "pdq.variant": np.tile(np.arange(per_file, dtype=np.uint8), n),
            "pdq.quality": np.full(n * per_file, 100, dtype=np.uint8),
        }
        write_segment(folder, arrays, names)
        for index in range(first, first + n):
            kind = planted.get(index)
            if kind is None:
                continue
            if kind != "pdq":
                value = digests[kind][index - first].tobytes().hex()
                new.append(NewEntry([Signal(kind, value)], "csam-a"))
                continue
            row = pdq[(index - first) * per_file + int(rng.integers(per_file))].copy()
            bits = np.unpackbits(row)
            flip = rng.choice(256, int(rng.integers(0, 32)), replace=False)
            bits[flip] ^= 1
            new.append(NewEntry([Signal("pdq", np.packbits(bits).tobytes().hex())], "csam-b"))
    writer.rows = files
    writer.close({"bank_fingerprint": fingerprint})
    write_s = time.perf_counter() - start
    write_cpu = time.process_time() - cpu
    store.close()
    bank.entries.add_many(new)
    bank.close()
    size = sum(p.stat().st_size for p in (root / "cases").rglob("*") if p.is_file())
    return {
        "files": files,
        "hashes": files * (3 + per_file),
        "write_s": round(write_s, 1),
        "write_cpu_s": round(write_cpu, 1),
        "write_vmhwm_mb": _vmhwm_mb(),
        "store_bytes_per_file": round(size / files),
        "planted": len(new),
        "planted_pdq": entries - exact_n,
    }


def hunt(root: Path) -> None:
    """In a child process: hunt, print the figures as JSON."""
    from hashwarden.bank import open_bank
    from hashwarden.cases import CaseStore, retro_hunt

    start = time.perf_counter()
    cpu = time.process_time()
    with open_bank(root / "b.db", readonly=True) as bank, CaseStore.open(root / "cases") as store:
        result = retro_hunt(bank, store)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "hunt_s": round(seconds, 1),
                "hunt_cpu_s": round(time.process_time() - cpu, 1),
                "found": result.matched,
                "entries": result.entries,
                "parts": result.parts,
                "vmhwm_mb": _vmhwm_mb(),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--hashes", type=int, help="store size in hashes, written in bulk")
    parser.add_argument("--pdq-share", type=float, default=0.5, help="of the bulk entries")
    parser.add_argument("--hunt", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bulk", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hunt:
        hunt(args.hunt)
        return 0
    if args.bulk:
        files = args.hashes // (4 + args.variants)
        print(json.dumps(bulk_store(args.bulk, files, args.entries, args.variants, args.pdq_share)))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.hashes:
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--bulk",
                    str(root),
                    "--hashes",
                    str(args.hashes),
                    "--entries",
                    str(args.entries),
                    "--pdq-share",
                    str(args.pdq_share),
                    "--variants",
                    str(args.variants),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(child.stdout)
        else:
            figures = build(root, args.files, args.entries, args.variants)
        child = subprocess.run(
            [sys.executable, __file__, "--hunt", str(root)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures |= json.loads(child.stdout)
    print(json.dumps(figures, indent=1))
    return 0 if figures["found"] == figures["planted"] else 1


if __name__ == "__main__":
    sys.exit(main())
