"""Start-up: whole-process time of `hashwarden --help`, of a `match` on a small bank and of a
`hash` of one photo, beside python-threatexchange's `threatexchange --help` (the anchor), in
one run (issue 14's targets: `--help` and `match` at least 3x faster than the anchor, `hash` of
one photo under twice `--help`; `hash` in reference PDQ mode, which decodes the photo whole, is
timed too).

Each command runs `--runs` times, the commands taking turns, after one warm-up run (so every
side reads its files from the page cache), and the sources are compiled first (`compileall`),
as pip compiles a package it installs: with PYTHONDONTWRITEBYTECODE set, as on the project's
machine, hashwarden would otherwise be compiled anew by every run while the anchor's installed
modules are not. The table gives the median and the fastest wall time, the median CPU time
(user + system, which a busy machine disturbs less), and the anchor's median wall time and
median CPU time over ours; the load average is printed before and after. With `--before SRC`
the same hashwarden commands also run from another checkout's `src/` (e.g. the code before the
start-up work) for a before/after comparison.

    python benchmarks/bench_startup.py [--runs 15] [--before /path/to/old/src]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hashwarden.synthetic import jpeg_bytes, synthetic_photo

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


def measure(
    cases: list[tuple[str, list[str], dict[str, str]]], runs: int
) -> dict[str, dict[str, float]]:
    """Each case's median and fastest wall time, median CPU time and exit code. The cases
    take turns, run after run, so a load that changes meanwhile weighs on all of them alike."""
    for _, command, env in cases:
        run_once(command, env)  # warm-up: page cache
    walls: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    cpus: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    codes: dict[str, set[int]] = {name: set() for name, _, _ in cases}
    for _ in range(runs):
        for name, command, env in cases:
            wall, cpu, code = run_once(command, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            codes[name].add(code)
    return {
        name: {
            "median": statistics.median(walls[name]),
            "min": min(walls[name]),
            "cpu": statistics.median(cpus[name]),
            "codes": float(min(codes[name])) if len(codes[name]) == 1 else -1.0,
        }
        for name, _, _ in cases
    }


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


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
    for _, src in sides:
        compileall.compile_dir(str(src), quiet=1)
    cases: list[tuple[str, list[str], dict[str, str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bank = small_bank(Path(tmp), SRC)
        photo = Path(tmp) / "IMG_0001.jpg"  # generated, benign: as bench_hashing_small_job
        photo.write_bytes(jpeg_bytes(synthetic_photo(14, 4000, 3000), 88))
        cases.append(("threatexchange --help (anchor)", [anchor, "--help"], dict(os.environ)))
        for label, src in sides:
            env = {**os.environ, "PYTHONPATH": str(src)}
            hw = [sys.executable, "-m", "hashwarden"]
            reference = ["--pdq-mode", "reference"]
            match = [*hw, "match", str(bank)] if label == "hashwarden" else [*hw, "match"]
            if label != "hashwarden":  # the old spelling, which the code before understood
                match += ["--bank", str(bank)]
            commands = [
                ("--help", [*hw, "--help"]),
                ("match --md5 (1-entry bank)", [*match, "--md5", MD5]),
                ("match --pdq (1-entry bank)", [*match, "--pdq", PDQ]),
                ("hash photo.jpg (12 MP JPEG)", [*hw, "hash", str(photo)]),
                ("hash --pdq-mode reference photo.jpg", [*hw, "hash", *reference, str(photo)]),
            ]
            if label == "hashwarden":
                commands.insert(1, ("--version", [*hw, "--version"]))
            cases += [(f"{label} {name}", command, env) for name, command in commands]
        print(load())
        found = measure(cases, args.runs)
        print(load())
    anchor = found["threatexchange --help (anchor)"]
    print(
        f"{'command':50} {'median':>8} {'fastest':>8} {'CPU':>8}"
        f" {'anchor/this':>11} {'(by CPU)':>8}  exit"
    )
    for name, m in found.items():
        print(
            f"{name:50} {m['median']:8.3f} {m['min']:8.3f} {m['cpu']:8.3f}"
            f" {anchor['median'] / m['median']:10.1f}x {anchor['cpu'] / m['cpu']:7.1f}x"
            f"  {int(m['codes'])}"
        )
    for label, _ in sides:  # the target: `hash` of one photo under twice `--help`
        helped = found[f"{label} --help"]
        for name in ("hash photo.jpg (12 MP JPEG)", "hash --pdq-mode reference photo.jpg"):
            m = found[f"{label} {name}"]
            print(
                f"{label} {name} / --help: {m['median'] / helped['median']:.2f}x by median wall,"
                f" {m['cpu'] / helped['cpu']:.2f}x by median CPU"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
