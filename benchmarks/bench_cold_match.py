"""Cold match, whole process: one PDQ look-up in a 1M-hash bank straight after `bank import`.

hashwarden: `hashwarden bank init` and `hashwarden bank import LIST --kind pdq` (no `index
build`: the import leaves the saved index current), then `hashwarden match --bank BANK --pdq
HASH` as a fresh process, and the same through the library (`open_bank` + `BankMatcher`) to
show what the CLI's own start-up adds. Anchor: python-threatexchange's PDQIndex built over the
same hashes and serialised with its own `serialize` (pickle), then a fresh process that
deserialises it and queries once, as its tooling does. Also timed: the first match on a copy
of the bank without its saved index (the in-memory rebuild every match paid before, which
now also saves the index for the next one).

The bank, the hash list and the anchor's pickle are cached in bench-output/ (a 1M import takes
minutes); --fresh rebuilds them.

    python benchmarks/bench_cold_match.py [--size 1000000] [--runs 5] [--fresh] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent.parent / "bench-output"
HASHWARDEN = [sys.executable, "-m", "hashwarden"]

ANCHOR_BUILD = """
import sys
from threatexchange.signal_type.pdq.pdq_index import PDQIndex
hexes = open(sys.argv[1]).read().split()
index = PDQIndex.build(zip(hexes, range(1, len(hexes) + 1)))
with open(sys.argv[2], "wb") as out:
    index.serialize(out)
"""
ANCHOR_QUERY = """
import sys
from threatexchange.signal_type.pdq.pdq_index import PDQIndex
with open(sys.argv[1], "rb") as f:
    index = PDQIndex.deserialize(f)
print(sorted(m.metadata for m in index.query(sys.argv[2])))
"""
LIBRARY_QUERY = """
import sys
from hashwarden.bank import open_bank
from hashwarden.index import BankMatcher
with open_bank(sys.argv[1], readonly=True) as bank:
    print(sorted(m.entry for m in BankMatcher(bank).match({"pdq": sys.argv[2]}).matches))
"""


def hashes(size: int) -> np.ndarray:
    rng = np.random.default_rng(size)
    return rng.integers(0, 2**64 - 1, size=(size, 4), dtype=np.uint64, endpoint=True)


def to_hex(row: np.ndarray) -> str:
    return row.astype(">u8").tobytes().hex()


def timed(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # match exits 1 for "matched"
        raise SystemExit(f"{command[:4]} failed:\n{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout.strip()


def prepare(size: int, fresh: bool) -> tuple[Path, Path, np.ndarray]:
    """The cached hash list, bank (imported by the CLI) and anchor pickle."""
    CACHE.mkdir(exist_ok=True)
    listing = CACHE / f"cold_match_{size}.txt"
    bank = CACHE / f"cold_match_{size}.db"
    pickled = CACHE / f"cold_match_{size}_pytx.pickle"
    words = hashes(size)
    if fresh or not listing.exists():
        listing.write_text("".join(to_hex(row) + "\n" for row in words))
    if fresh or not bank.exists():
        for stale in (bank, bank.with_name(bank.name + ".index")):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(
                missing_ok=True
            )
        subprocess.run([*HASHWARDEN, "bank", "init", str(bank)], check=True, capture_output=True)
        wall, cpu, _ = timed(
            [*HASHWARDEN, "bank", "import", str(bank), str(listing), "--kind", "pdq"]
        )
        print(
            f"bank import of {size:,} PDQ hashes (saved index included): {wall:.0f} s, CPU {cpu:.0f} s"
        )
    else:
        print(f"reusing {bank} (--fresh to import again)")
    status = subprocess.run(
        [*HASHWARDEN, "index", "status", str(bank)], capture_output=True, text=True
    )
    print("  " + status.stdout.strip().replace("\n", "\n  "))
    if fresh or not pickled.exists():
        subprocess.run([sys.executable, "-c", ANCHOR_BUILD, str(listing), str(pickled)], check=True)
    return bank, pickled, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="import the bank again")
    parser.add_argument("--quick", action="store_true", help="10,000 hashes, 3 runs")
    args = parser.parse_args()
    size, runs = (10_000, 3) if args.quick else (args.size, args.runs)
    bank, pickled, words = prepare(size, args.fresh)
    near = words[size // 2].copy()
    near[0] ^= np.uint64(0b1011)  # 3 bits from a banked hash
    query = to_hex(near)
    sides = {
        "python-threatexchange (deserialize + query)": [
            sys.executable,
            "-c",
            ANCHOR_QUERY,
            str(pickled),
            query,
        ],
        "hashwarden match (CLI)": [*HASHWARDEN, "match", "--bank", str(bank), "--pdq", query],
        "hashwarden library (BankMatcher)": [sys.executable, "-c", LIBRARY_QUERY, str(bank), query],
    }
    print(f"\ncold match, whole process, {size:,} PDQ hashes, {runs} runs each, interleaved")
    walls: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    answers: dict[str, str] = {}
    for _ in range(runs):
        for name, command in sides.items():
            wall, cpu, out = timed(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
            answers[name] = out
    anchor = statistics.median(walls[next(iter(sides))])
    print(f"{'':46}{'median s':>10}{'min s':>8}{'CPU s':>8}{'vs anchor':>11}")
    for name in sides:
        median = statistics.median(walls[name])
        print(
            f"{name:46}{median:10.2f}{min(walls[name]):8.2f}"
            f"{statistics.median(cpus[name]):8.2f}{anchor / median:10.1f}x"
        )
    print(
        f"answers: anchor {answers[next(iter(sides))]}; hashwarden library {answers[list(sides)[2]]}"
    )
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(bank, copy)
        first = timed([*HASHWARDEN, "match", "--bank", str(copy), "--pdq", query])
        second = timed([*HASHWARDEN, "match", "--bank", str(copy), "--pdq", query])
    print(
        f"without a saved index: first match {first[0]:.2f} s (rebuilds in memory and saves it), "
        f"the next {second[0]:.2f} s"
    )


if __name__ == "__main__":
    main()
