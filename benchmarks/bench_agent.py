"""The endpoint agent against issue 17's three targets, on this machine:

1. latency: a banked image (or a mirrored, resized copy) written into a watched folder, to its
   alert listed by the service (`GET /v1/alerts`): p50 under 1 s, p99 under 3 s;
2. idle: an agent watching 100,000 files (of 100 KB to 5 MB, sparse: `--file-sizes`), after
   its first sweep: under 1% of a core and under 150 MB resident (/proc/PID/stat utime + stime
   and VmRSS sampled every second of the window);
3. sweep rate: the agent's first sweep (not held back: --max-cpu 100, nice 0) against
   `hashwarden hash --workers 1` on the same files, taking turns `--rounds` times, each side
   its whole process less its run on one image: within 10%; CPU time an image beside.

A real `hashwarden serve` and `hashwarden watch` run on loopback; images are generated
(benign). There is no anchor: no open tool does this.

    python benchmarks/bench_agent.py [--writes 100] [--files 100000] [--idle-window 60]
        [--file-sizes 100k-5m] [--images 200] [--rounds 3] [--only latency|idle|sweep] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageOps

BIN = [sys.executable, "-m", "hashwarden"]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Any, deadline: float = 3600) -> Any:
    end = time.monotonic() + deadline
    while not (found := check()):
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return found


def photo(seed: int, width: int = 640, height: int = 480) -> bytes:
    from hashwarden.synthetic import jpeg_bytes, synthetic_photo

    return jpeg_bytes(synthetic_photo(seed, width, height))


def mirrored_smaller(data: bytes) -> bytes:
    turned = ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB"))
    out = io.BytesIO()
    turned.resize((turned.width * 3 // 4, turned.height * 3 // 4)).save(out, "JPEG", quality=85)
    return out.getvalue()


def make_bank(location: Path, images: list[bytes]) -> None:
    from hashwarden.bank import NewEntry, create_bank
    from hashwarden.signals.builtin import default_registry
    from hashwarden.signals.hashing import hash_bytes

    registry = default_registry()
    with create_bank(location) as bank:
        entries = []
        for data in images:
            hashes = hash_bytes(data)
            signals = [registry.signal("sha256", hashes.sha256)]
            if hashes.pdq:
                signals.append(registry.signal("pdq", hashes.pdq))
            entries.append(NewEntry(signals, category="csam-a"))
        bank.entries.add_many(entries)


class Running:
    """The service and an agent, as processes; stopped by `close`."""

    def __init__(self, work: Path, banked: list[bytes], paths: list[Path], **settings: Any):
        from hashwarden.bank import open_bank
        from hashwarden.service.keys import create_key

        self.work = work
        make_bank(work / "central.db", banked)
        shutil.copy(work / "central.db", work / "local.db")
        with open_bank(work / "central.db") as bank:
            agent_key = create_key(bank, "agents", "agent")
            self.reviewer = create_key(bank, "soc", "reviewer")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = (work / "serve.log").open("ab")
        self.server = subprocess.Popen(
            [*BIN, "serve", str(work / "central.db"), "--listen", f"127.0.0.1:{self.port}"],
            stdout=log,
            stderr=log,
        )
        wait_for("the service", self._up, 300)
        self.state = work / "state"
        config = {
            "paths": [str(p) for p in paths],
            "bank": str(work / "local.db"),
            "report_to": self.url,
            "key": agent_key,
            "state": str(self.state),
            "media_roots": [str(work / "no-media")],
            **settings,
        }
        (work / "agent.toml").write_text(
            "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
        )
        agent_log = (work / "agent.log").open("ab")
        self.agent = subprocess.Popen(
            [*BIN, "watch", "--config", str(work / "agent.toml")],
            stdout=agent_log,
            stderr=agent_log,
        )
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.reviewer}"}, timeout=10
        )

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/status", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def first_sweep_done(self) -> dict[str, Any] | None:
        sweep = self.status().get("sweep", {})
        return sweep if sweep.get("number") == 1 and sweep.get("finished") else None

    def alerts_after(self, after: int) -> list[dict[str, Any]]:
        return list(self.client.get("/v1/alerts", params={"after": after}).json())

    def close(self) -> None:
        self.client.close()
        for process in (self.agent, self.server):
            process.terminate()
            process.wait(timeout=60)


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# -- 1. latency -----------------------------------------------------------------------------------
def latency(work: Path, writes: int) -> dict[str, Any]:
    banked = [photo(seed) for seed in range(1, 6)]
    watched = work / "watched"
    watched.mkdir(parents=True)
    run = Running(work, banked, [watched])  # the defaults: max_cpu 20, settle 1 s
    try:
        wait_for("the first sweep", run.first_sweep_done, 300)
        last = 0
        seconds = []
        print(f"  {load()}", flush=True)
        for number in range(writes):
            data = banked[number % len(banked)]
            if number % 2:
                data = mirrored_smaller(data)
            name = watched / f"photo-{number:04d}.jpg"
            started = time.time()
            name.write_bytes(data)
            found = wait_for(
                "an alert",
                lambda n=name, after=last: [
                    a for a in run.alerts_after(after) if a["path"] == str(n)
                ],
                120,
            )
            seconds.append(time.time() - started)
            last = found[0]["id"]
            time.sleep(1.0)  # one write at a time: each measured alone
        print(f"  {load()}", flush=True)
        cpu = proc_cpu_s(run.agent.pid)
        return {
            "writes": writes,
            "p50_s": percentile(seconds, 0.5),
            "p99_s": percentile(seconds, 0.99),
            "max_s": max(seconds),
            "mean_s": statistics.mean(seconds),
            "agent_cpu_s": cpu,
        }
    finally:
        run.close()


# -- 2. idle ---------------------------------------------------------------------------------------
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_sizes(text: str) -> tuple[int, int]:
    """`100k-5m` (or one size, `65`) as (smallest, largest) bytes."""

    def one(part: str) -> int:
        part = part.strip().lower()
        unit = part[-1] if part and part[-1] in _UNITS else ""
        return int(float(part[: len(part) - len(unit)]) * _UNITS[unit])

    low, _, high = text.partition("-")
    smallest, largest = one(low), one(high or low)
    if not 64 < smallest <= largest:
        raise SystemExit("--file-sizes: sizes above 64 bytes, the smaller first (100k-5m)")
    return smallest, largest


def idle(work: Path, files: int, window_s: float, sizes: tuple[int, int]) -> dict[str, Any]:
    """Files of sizes spread evenly on a log scale between `sizes` (as file sizes are), each a
    distinct random head and the rest a hole (`truncate`: the disk holds a block a file),
    so the first sweep reads and hashes every byte while the disk stays small."""
    import math
    import random

    rng = random.Random(17)
    low, high = math.log(sizes[0]), math.log(sizes[1])
    watched = work / "watched"
    per_folder = 100
    total = 0
    for number in range(files):
        folder = watched / f"{number // per_folder // 100:03d}" / f"{number // per_folder:05d}"
        if number % per_folder == 0:
            folder.mkdir(parents=True)
        size = round(math.exp(rng.uniform(low, high)))
        with (folder / f"file-{number:06d}.bin").open("wb") as out:
            out.write(os.urandom(64) + b"\n")
            out.truncate(size)
        total += size
    print(f"  {files:,} files, {total / 1e9:.1f} GB in all (sparse)", flush=True)
    run = Running(work, [photo(1)], [watched], max_cpu=100)
    try:
        started = time.time()
        sweep = wait_for("the first sweep", run.first_sweep_done, 7200)
        swept = time.time() - started
        time.sleep(10)  # let the sweep's own bookkeeping end
        pid = run.agent.pid
        before = load()
        print(f"  {before}", flush=True)
        # /proc/PID/stat utime + stime and VmRSS, sampled every second of the window
        cpu0, wall0 = proc_cpu_s(pid), time.monotonic()
        rss = []
        while time.monotonic() - wall0 < window_s:
            time.sleep(1.0)
            rss.append(proc_mem_mb(pid, "VmRSS"))
        cpu1, wall1 = proc_cpu_s(pid), time.monotonic()
        after = load()
        print(f"  {after}", flush=True)
        return {
            "files": files,
            "file_sizes_bytes": list(sizes),
            "total_gb": round(total / 1e9, 1),
            "folders": files // per_folder,
            "first_sweep_s": round(swept, 1),
            "swept_files": sweep.get("files"),
            "idle_window_s": window_s,
            "idle_cpu_s": round(cpu1 - cpu0, 3),
            "idle_cpu_percent_of_a_core": 100 * (cpu1 - cpu0) / (wall1 - wall0),
            "rss_mb": rss[-1],
            "max_rss_mb_in_window": max(rss),
            "peak_rss_mb": proc_mem_mb(pid, "VmHWM"),
            "threads": int(proc_mem_mb(pid, "Threads") * 1024),
            "load_before": before,
            "load_after": after,
        }
    finally:
        run.close()


# -- 3. sweep rate ---------------------------------------------------------------------------------
#: Images each side hashes before its rate is taken (start-up: imports, the bank and its index,
#: the agent's other threads' first heartbeat): the rate is of the images after them.
SETTLED_AFTER = 20


def hash_steady(folder: Path, images: int) -> tuple[float, float]:
    """`hash --workers 1` of the folder: (seconds, CPU seconds) an image from its
    SETTLED_AFTER-th printed line to its last (each line is printed as its file is done)."""
    command = [*BIN, "hash", str(folder), "--json", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    marks = []
    for count, _ in enumerate(process.stdout, 1):
        if count in (SETTLED_AFTER, images):
            # before the process is reaped, its /proc entry keeps the CPU times
            marks.append((time.perf_counter(), proc_cpu_s(process.pid)))
    if process.wait() != 0 or len(marks) != 2:
        raise SystemExit("hash failed")
    (t1, c1), (t2, c2) = marks
    return (t2 - t1) / (images - SETTLED_AFTER), (c2 - c1) / (images - SETTLED_AFTER)


def agent_steady(work: Path, watched: Path, images: int, **settings: Any) -> tuple[float, float]:
    """An agent's first sweep of the folder: (seconds, CPU seconds of the whole process) an
    image from its status showing SETTLED_AFTER files swept to the sweep's end. The status
    file carries its time, the sweep's count and the process's CPU time, all taken together
    by the agent. Once the window opens the file is read only every quarter second: read
    every 10 ms, this process's own work on the shared cores cost the agent's 1 ms an image
    (measured), which `hash`, printing to a pipe read as it comes, is spared."""
    work.mkdir()
    run = Running(work, [photo(1)], [watched], status_every=0.25, **settings)
    try:
        first = wait_for(
            "the sweep's first images",
            lambda: (
                (found := run.status()).get("sweep", {}).get("files", 0) >= SETTLED_AFTER and found
            ),
        )
        while True:
            time.sleep(0.25)
            status = run.status()
            sweep = status.get("sweep", {})
            if sweep.get("number") == 1 and sweep.get("finished"):
                break
        if float(status["updated"]) < float(sweep["finished"]) or sweep["files"] != images:
            raise SystemExit(f"the agent's status does not show the sweep's end: {sweep}")
        seconds = float(sweep["finished"]) - float(first["updated"])
        cpu = float(status["cpu_s"]) - float(first["cpu_s"])
        count = images - int(first["sweep"]["files"])
        return seconds / count, cpu / count
    finally:
        run.close()


def sweep_rate(work: Path, images: int, rounds: int) -> dict[str, Any]:
    """Like for like, `rounds` times taking turns: `hash --workers 1` (one process, one core)
    and an agent's first sweep (one worker thread; not held back: --max-cpu 100, nice 0) of
    the same images. Both decode and hash alike (fast PDQ, no P2P identifiers, glibc told to
    keep freed memory at the first decode); the agent adds its variants, matching and state.
    Both are timed the same way: from their SETTLED_AFTER-th image to their last, so neither's
    start-up counts; CPU is the whole process's (every thread). Each round's ratio, the
    median of them, and CPU an image for both."""
    watched = work / "watched"
    watched.mkdir(parents=True)
    for number in range(images):
        (watched / f"img-{number:05d}.jpg").write_bytes(photo(1000 + number))
    print(f"  {load()}", flush=True)
    hashes, sweeps, loads = [], [], []
    for number in range(rounds):
        hashes.append(hash_steady(watched, images))
        # not held back: no CPU budget and no lower niceness, as `hash` runs
        sweeps.append(agent_steady(work / f"free-{number}", watched, images, max_cpu=100, nice=0))
        loads.append(os.getloadavg()[0])
        print(
            f"  round {number + 1}: hash {1 / hashes[-1][0]:.1f}/s ({1000 * hashes[-1][1]:.2f} ms"
            f" CPU an image), agent {1 / sweeps[-1][0]:.1f}/s ({1000 * sweeps[-1][1]:.2f} ms):"
            f" {hashes[-1][0] / sweeps[-1][0]:.2f}x; {load()}",
            flush=True,
        )
    # held back by the default budget (20% of a core): the share it used over the sweep
    work_held = work / "held"
    work_held.mkdir()
    held_run = Running(work_held, [photo(1)], [watched], status_every=0.1)
    try:
        wait_for("the sweep to start", lambda: held_run.status().get("sweep", {}).get("started"))
        held_cpu0 = proc_cpu_s(held_run.agent.pid)
        held = wait_for("the first sweep", held_run.first_sweep_done, 7200)
        held_cpu = proc_cpu_s(held_run.agent.pid) - held_cpu0
    finally:
        held_run.close()
    held_wall = float(held["finished"]) - float(held["started"])
    print(f"  {load()}", flush=True)
    ratios = [h[0] / a[0] for h, a in zip(hashes, sweeps, strict=True)]
    cpu_ratios = [a[1] / h[1] for h, a in zip(hashes, sweeps, strict=True)]
    return {
        "images": images,
        "rounds": rounds,
        "settled_after_images": SETTLED_AFTER,
        "hash_workers_1_per_s": [round(1 / h[0], 1) for h in hashes],
        "agent_sweep_per_s": [round(1 / a[0], 1) for a in sweeps],
        "agent_vs_hash_each_round": [round(r, 2) for r in ratios],
        "agent_vs_hash_median": statistics.median(ratios),
        "hash_cpu_ms_per_image": [round(1000 * h[1], 2) for h in hashes],
        "agent_cpu_ms_per_image": [round(1000 * a[1], 2) for a in sweeps],
        "agent_cpu_over_hash_median": statistics.median(cpu_ratios),
        "load_1min_each_round": [round(x, 1) for x in loads],
        "held_back_default_max_cpu_percent": 20,
        "held_back_cpu_percent_of_a_core": 100 * held_cpu / held_wall,
        "held_back_per_s": images / held_wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=100, help="latency samples")
    parser.add_argument("--files", type=int, default=100_000, help="files an idle agent watches")
    parser.add_argument("--idle-window", type=float, default=60.0, help="seconds measured")
    parser.add_argument(
        "--file-sizes",
        default="100k-5m",
        help="sizes of the idle agent's files, spread on a log scale (sparse): MIN-MAX or one",
    )
    parser.add_argument("--images", type=int, default=200, help="640x480 JPEGs swept")
    parser.add_argument("--rounds", type=int, default=3, help="sweep and hash runs, taking turns")
    parser.add_argument("--quick", action="store_true", help="10 writes, 5,000 files, 40 images")
    parser.add_argument("--only", choices=("latency", "idle", "sweep"), action="append")
    args = parser.parse_args()
    if args.quick:
        args.writes, args.files, args.idle_window, args.images = 10, 5_000, 20.0, 40
    results = {"machine": load()}
    parts = args.only or ["latency", "idle", "sweep"]
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        if "latency" in parts:
            print("1. banked image written -> alert listed", flush=True)
            results["latency"] = latency(Path(tmp) / "latency", args.writes)
            print(json.dumps(results["latency"], indent=1), flush=True)
        if "idle" in parts:
            print(f"2. idle agent watching {args.files:,} files", flush=True)
            results["idle"] = idle(
                Path(tmp) / "idle", args.files, args.idle_window, parse_sizes(args.file_sizes)
            )
            print(json.dumps(results["idle"], indent=1), flush=True)
        if "sweep" in parts:
            print(f"3. sweep of {args.images} images against `hashwarden hash`", flush=True)
            results["sweep"] = sweep_rate(Path(tmp) / "sweep", args.images, args.rounds)
            print(json.dumps(results["sweep"], indent=1), flush=True)
    lat, quiet, rate = results.get("latency"), results.get("idle"), results.get("sweep")
    print("\ntarget                                   ours")
    if lat:
        print(
            f"latency p50 < 1 s, p99 < 3 s            p50 {lat['p50_s']:.2f} s, p99 {lat['p99_s']:.2f} s"
        )
    if quiet:
        print(
            f"idle, {quiet['files']:,} files: < 1% core, < 150 MB"
            f"   {quiet['idle_cpu_percent_of_a_core']:.2f}% of a core, {quiet['rss_mb']:.0f} MB"
        )
    if rate:
        print(
            f"sweep within 10% of hash --workers 1      median {rate['agent_vs_hash_median']:.2f}x"
            f" (rounds {rate['agent_vs_hash_each_round']}); CPU an image: agent"
            f" {rate['agent_cpu_ms_per_image']} ms, hash {rate['hash_cpu_ms_per_image']} ms"
        )
        print(
            f"held back by --max-cpu 20                 {rate['held_back_per_s']:.1f}/s at"
            f" {rate['held_back_cpu_percent_of_a_core']:.0f}% of a core"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
