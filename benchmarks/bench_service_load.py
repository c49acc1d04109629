"""Load on the match service, side by side with HMA: `GET /m/raw_lookup` with 2 workers loaded
by wrk (`-t1 -c8`, keep-alive), against a bank of random PDQ hashes.

It builds a SQLite bank of `--size` random PDQ hashes (seed fixed) with its saved index, starts
`hashwarden serve --workers 2`, and runs wrk `--runs` times for `--duration` seconds each:
requests a second, p50/p99 latency, errors, and the spread between runs. HMA (Meta's
hasher-matcher-actioner) is measured the same way in the same run when `--hma-url` names one
already running and filled with the same hashes (`--write-hashes FILE` writes them, one a
line; how HMA was set up for the published figures: docs/bench/service_load.md); without it
the anchor is skipped with a line saying so. `--soak S` then loads ours for S seconds while
sampling the resident memory of the server and its workers, to show whether it grows.

    python benchmarks/bench_service_load.py [--size 1000000] [--duration 30] [--runs 3]
        [--soak 600] [--hma-url http://127.0.0.1:5100] [--quick]

Queries: 2,000 random PDQ hashes (nearly all miss, as most uploads do) with every 20th a
banked hash (an exact match), the same list for both services. The load average is printed
with the figures: on a shared machine they are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).with_name("hashwarden")


def random_hashes(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
    return [bytes(row).hex() for row in rows]


def build_bank(folder: Path, hashes: list[str]) -> str:
    from hashwarden.bank import create_bank
    from hashwarden.bank.base import NewEntry
    from hashwarden.index.saved import save_index
    from hashwarden.signals.base import Signal

    location = str(folder / "load.db")
    started = time.perf_counter()
    with create_bank(location) as bank:
        for start in range(0, len(hashes), 50_000):
            chunk = hashes[start : start + 50_000]
            bank.entries.add_many(NewEntry([Signal("pdq", h)]) for h in chunk)
        save_index(bank)
    print(f"bank of {len(hashes):,} PDQ hashes built in {time.perf_counter() - started:.0f} s")
    return location


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * 4096
            with open(f"/proc/{p}/task/{p}/children") as f:
                pids += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
    return total / 1e6


WRK_SCRIPT = """
local hashes = {%s}
local i = 0
request = function()
  i = i + 1
  local path = "%s?signal_type=pdq&signal=" .. hashes[(i %% #hashes) + 1]
  return wrk.format("GET", path, {%s})
end
"""


def wrk(url: str, path: str, queries: list[str], duration: float, key: str | None) -> dict:
    """One wrk run (C, one thread, 8 keep-alive connections): the load generator must not be
    the bottleneck."""
    headers = f'["Authorization"] = "Bearer {key}"' if key else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (",".join(f'"{q}"' for q in queries), path, headers))
    try:
        run = subprocess.run(
            ["wrk", "-t1", "-c8", f"-d{int(duration)}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    out = run.stdout

    def ms(percentile: str) -> float:
        found = re.search(rf"^\s+{percentile}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {percentile}% latency in wrk's output:\n{out}")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    non_2xx = int(out.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in out else 0
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "requests_per_s": float(out.split("Requests/sec:")[1].split()[0]),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": non_2xx + errors,
        "requests": int(out.split(" requests in ")[0].split()[-1]),
        "load_average": os.getloadavg()[0],
    }


def measure(
    name: str, url: str, path: str, queries: list[str], args: argparse.Namespace, key: str | None
) -> list[dict]:
    runs = []
    for n in range(args.runs):
        result = wrk(url, path, queries, args.duration, key)
        runs.append(result)
        print(
            f"{name} run {n + 1}: {result['requests_per_s']:,.0f} req/s, p50 "
            f"{result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, {result['errors']} errors "
            f"of {result['requests']:,} (load average {result['load_average']:.2f})",
            flush=True,
        )
    rates = [r["requests_per_s"] for r in runs]
    spread = (max(rates) - min(rates)) / min(rates) if min(rates) else float("inf")
    print(
        f"{name}: median {statistics.median(rates):,.0f} req/s, runs within "
        f"{100 * spread:.0f}% of each other",
        flush=True,
    )
    return runs


def start_ours(
    location: str, workers: int, log: Path, request_log: str = "all"
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    started = time.perf_counter()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(BIN),
                "serve",
                "--bank",
                location,
                "--port",
                str(port),
                "--workers",
                f"{workers}",
                "--request-log",
                request_log,
            ],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    while b"listening" not in log.read_bytes() and not (workers == 1 and _answers(port)):
        if server.poll() is not None:
            raise RuntimeError(f"serve ended: {log.read_text(errors='replace')}")
        time.sleep(0.2)
    print(f"hashwarden serve --workers {workers} up in {time.perf_counter() - started:.1f} s")
    return server, f"http://127.0.0.1:{port}"


def _answers(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/status", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def soak(
    server: subprocess.Popen[bytes], url: str, queries: list[str], seconds: float, key: str
) -> dict:
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not done.is_set():
            samples.append((time.perf_counter() - t0, tree_rss_mb(server.pid)))
            done.wait(min(10.0, seconds / 20))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = wrk(url, "/m/raw_lookup", queries, seconds, key)
    finally:
        done.set()
        sampler.join()
    rss = [m for _, m in samples]
    half = len(rss) // 2
    growth = statistics.fmean(rss[half:]) - statistics.fmean(rss[:half]) if half else 0.0
    print(
        f"soak {seconds:.0f} s: {result['requests_per_s']:,.0f} req/s, p99 "
        f"{result['p99_ms']:.2f} ms, {result['errors']} errors; RSS first {rss[0]:.0f} MB, last "
        f"{rss[-1]:.0f} MB, max {max(rss):.0f} MB, second half minus first {growth:+.0f} MB",
        flush=True,
    )
    return {**result, "rss_mb": samples, "rss_growth_mb": growth}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=30, help="seconds a wrk run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--soak", type=float, default=0, help="seconds of load for memory")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--warm-up", type=float, default=10, help="seconds of load on each before its runs"
    )
    parser.add_argument("--hma-url", help="an HMA already running, filled with the same hashes")
    parser.add_argument("--write-hashes", type=Path, help="write the banked hashes here")
    parser.add_argument("--quick", action="store_true", help="1,000 hashes, 10 s runs")
    parser.add_argument(
        "--request-log", default="all", choices=["all", "errors"], help="serve's --request-log"
    )
    args = parser.parse_args()
    if args.quick:
        args.size, args.duration = 1000, 10

    from hashwarden.bank import open_bank
    from hashwarden.service.keys import create_key

    banked = random_hashes(args.size, seed=args.size)
    if args.write_hashes:
        args.write_hashes.write_text("\n".join(banked) + "\n")
    queries = random_hashes(2000, seed=7)
    queries[::20] = banked[: len(queries[::20])]
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    results: dict[str, object] = {"size": args.size}
    if args.hma_url:
        wrk(args.hma_url, "/m/raw_lookup", queries, args.warm_up, None)
        results["hma"] = measure("HMA", args.hma_url, "/m/raw_lookup", queries, args, None)
    else:
        print("HMA: skipped (no --hma-url): no anchor in this run", flush=True)
    with tempfile.TemporaryDirectory(prefix="hashwarden-load-") as tmp:
        location = build_bank(Path(tmp), banked)
        with open_bank(location) as bank:
            key = create_key(bank, "load", "matcher")
        server, url = start_ours(location, args.workers, Path(tmp) / "serve.log", args.request_log)
        try:
            # Every query once at least: the index's pages read in, both workers warm.
            wrk(url, "/m/raw_lookup", queries, args.warm_up, key)
            results["ours"] = measure("hashwarden", url, "/m/raw_lookup", queries, args, key)
            if args.soak:
                results["soak"] = soak(server, url, queries, args.soak, key)
        finally:
            server.terminate()
            server.wait(timeout=60)
    if "hma" in results:
        ours = statistics.median(r["requests_per_s"] for r in results["ours"])  # type: ignore[attr-defined]
        hma = statistics.median(r["requests_per_s"] for r in results["hma"])  # type: ignore[attr-defined]
        print(f"ratio: hashwarden {ours / hma:.1f}x HMA's requests a second", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
