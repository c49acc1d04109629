"""Start-up: whole-process time of `hashwarden --help` and of a `match` on a small bank, beside
python-threatexchange's `threatexchange --help` (the anchor), in one run.

Each command runs `--runs` times after one warm-up run (so every side reads its files from the
page cache); the table gives the median and the fastest wall time, the median CPU time (user +
system, which a busy machine disturbs less), and the anchor's median wall time over ours.
With `--before SRC` the same hashwarden commands also run from another checkout's `src/` (e.g.
the code before the start-up work) for a before/after comparison.

    python benchmarks/bench_startup.py [--runs 15] [--before /path/to/old/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MD5 = "d35c785545392755e7e4164457657269"
PDQ = "f" * 64


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def measure(command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    run_once(command, env)  # warm-up: page cache, .pyc files
    walls, cpus, codes = [], [], set()
    for _ in range(runs):
        wall, cpu, code = run_once(command, env)
        walls.append(wall)
        cpus.append(cpu)
        codes.add(code)
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "cpu": statistics.median(cpus),
        "codes": float(min(codes)) if len(codes) == 1 else -1.0,
    }


def small_bank(folder: Path, src: Path) -> Path:
    """A bank of one entry (an MD5 and a PDQ hash), made with the code under test."""
    bank = folder / "small.db"
    env = {**os.environ, "PYTHONPATH": str(src)}
    hw = [sys.executable, "-m", "hashwarden"]
    subprocess.run([*hw, "bank", "init", str(bank)], env=env, check=True, capture_output=True)
    add = [*hw, "bank", "add", str(bank), "--md5", MD5, "--pdq", PDQ, "-c", "B"]
    subprocess.run(add, env=env, check=True, capture_output=True)
    return bank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="another checkout's src/ to compare")
    args = parser.parse_args()
    anchor = shutil.which("threatexchange") or str(Path(sys.executable).parent / "threatexchange")
    if not Path(anchor).exists():
        print("threatexchange (python-threatexchange) is not installed", file=sys.stderr)
        return 1
    sides = [("hashwarden", SRC)] + ([("before", args.before)] if args.before else [])
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bank = small_bank(Path(tmp), SRC)
        rows.append(
            (
                "threatexchange --help (anchor)",
                measure([anchor, "--help"], dict(os.environ), args.runs),
            )
        )
        for label, src in sides:
            env = {**os.environ, "PYTHONPATH": str(src)}
            hw = [sys.executable, "-m", "hashwarden"]
            match = [*hw, "match", str(bank)] if label == "hashwarden" else [*hw, "match"]
            if label != "hashwarden":  # the old spelling, which the code before understood
                match += ["--bank", str(bank)]
            commands = [
                ("--help", [*hw, "--help"]),
                ("match --md5 (1-entry bank)", [*match, "--md5", MD5]),
                ("match --pdq (1-entry bank)", [*match, "--pdq", PDQ]),
            ]
            if label == "hashwarden":
                commands.insert(1, ("--version", [*hw, "--version"]))
            for name, command in commands:
                rows.append((f"{label} {name}", measure(command, env, args.runs)))
    anchor_median = rows[0][1]["median"]
    print(f"{'command':42} {'median':>8} {'fastest':>8} {'CPU':>8} {'anchor/this':>11}  exit")
    for name, m in rows:
        print(
            f"{name:42} {m['median']:8.3f} {m['min']:8.3f} {m['cpu']:8.3f}"
            f" {anchor_median / m['median']:10.1f}x  {int(m['codes'])}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
