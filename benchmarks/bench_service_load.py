"""Load on the match service: hash look-ups against a bank of 1 million PDQ hashes, and uploads
of 1-megapixel JPEGs, from a separate load-generator process on loopback (wrk for look-ups, an asyncio client for
uploads).

It builds a bank of random PDQ hashes (seed fixed) with its saved index, starts
`hashwarden serve --workers 2`, and drives it from another process with an asyncio HTTP client
at a fixed concurrency: requests per second, p50/p99 latency, and the server's resident memory
(all its processes) sampled over the run, to show whether it grows.

    python benchmarks/bench_service_load.py [--size 1000000] [--duration 600] [--quick]

There is no anchor in this run: HMA (the service python-threatexchange's index sits in) needs a
Flask app with its own PostgreSQL schema and is not installable from PyPI alone; its index
alone is compared in bench_pdq_index.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).with_name("hashwarden")


def build_bank(folder: Path, size: int) -> str:
    from hashwarden.bank import create_bank
    from hashwarden.bank.base import NewEntry
    from hashwarden.index.saved import save_index
    from hashwarden.signals.base import Signal

    location = str(folder / "load.db")
    rng = np.random.default_rng(size)
    started = time.perf_counter()
    with create_bank(location) as bank:
        for start in range(0, size, 50_000):
            n = min(50_000, size - start)
            words = rng.integers(0, 2**63, size=(n, 32), dtype=np.uint64) % 256
            hexes = [bytes(row.astype(np.uint8)).hex() for row in words]
            bank.entries.add_many(NewEntry([Signal("pdq", h)]) for h in hexes)
        save_index(bank)
    print(f"bank of {size:,} PDQ hashes built in {time.perf_counter() - started:.0f} s", flush=True)
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


LOADGEN = r"""
import asyncio, json, sys, time
import httpx

async def main(url, key, kind, payloads, duration, concurrency):
    headers = {"Authorization": f"Bearer {key}"}
    latencies, errors = [], 0
    end = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as c:
        async def worker(i):
            nonlocal errors
            n = i
            while time.perf_counter() < end:
                body = payloads[n % len(payloads)]
                n += concurrency
                t = time.perf_counter()
                if kind == "hash":
                    r = await c.post("/v1/match/hashes", json={"signals": {"pdq": body}})
                else:
                    r = await c.post("/v1/match/upload", content=bytes.fromhex(body))
                latencies.append(time.perf_counter() - t)
                errors += r.status_code != 200
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    print(json.dumps({"latencies": latencies, "errors": errors}))

args = json.loads(sys.stdin.read())
asyncio.run(main(**args))
"""


def load(url: str, key: str, kind: str, payloads: list[str], duration: float, conc: int) -> dict:
    """Run the load generator in its own process; returns its latencies and error count."""
    args = {
        "url": url,
        "key": key,
        "kind": kind,
        "payloads": payloads,
        "duration": duration,
        "concurrency": conc,
    }
    run = subprocess.run(
        [sys.executable, "-c", LOADGEN],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(run.stdout))


WRK_SCRIPT = """
local hashes = {%s}
local i = 0
request = function()
  i = i + 1
  local body = '{"signals":{"pdq":"' .. hashes[(i %% #hashes) + 1] .. '"}}'
  return wrk.format("POST", "/v1/match/hashes",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, body)
end
"""


def wrk_load(url: str, key: str, queries: list[str], duration: float, conc: int) -> dict:
    """Hash look-ups from wrk (C, one thread): the load generator must not be the bottleneck."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (",".join(f'"{q}"' for q in queries), key))
    run = subprocess.run(
        ["wrk", "-t1", f"-c{conc}", f"-d{int(duration)}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    out = run.stdout

    def ms(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {percentile}% latency in wrk's output:\n{out}")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    non_2xx = int(out.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in out else 0
    requests = int(out.split(" requests in ")[0].split()[-1])
    return {
        "requests_per_s": float(out.split("Requests/sec:")[1].split()[0]),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": non_2xx,
        "requests": requests,
    }


def summary(name: str, result: dict, duration: float) -> dict[str, float]:
    lat = sorted(result["latencies"])
    out = {
        "requests_per_s": len(lat) / duration,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
        "mean_ms": 1000 * statistics.fmean(lat),
        "errors": result["errors"],
        "requests": len(lat),
    }
    print(
        f"{name}: {out['requests_per_s']:,.0f} req/s, p50 {out['p50_ms']:.1f} ms, "
        f"p99 {out['p99_ms']:.1f} ms, {out['errors']} errors of {out['requests']:,}",
        flush=True,
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=600, help="hash look-up run, seconds")
    parser.add_argument("--upload-duration", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="10,000 hashes, 20 s runs")
    args = parser.parse_args()
    if args.quick:
        args.size, args.duration, args.upload_duration = 10_000, 20, 10

    from hashwarden.bank import open_bank
    from hashwarden.service.keys import create_key
    from hashwarden.synthetic import jpeg_bytes, synthetic_photo

    with tempfile.TemporaryDirectory(prefix="hashwarden-load-") as tmp:
        location = build_bank(Path(tmp), args.size)
        with open_bank(location) as bank:
            key = create_key(bank, "load", "matcher")
        port = free_port()
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                str(BIN),
                "serve",
                "--bank",
                location,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            while True:
                try:
                    if httpx.get(f"{url}/status", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            print(f"service up in {time.perf_counter() - started:.1f} s", flush=True)
            rng = np.random.default_rng(7)
            queries = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(2000)]
            # warm both workers (their first match loads the index)
            load(url, key, "hash", queries[:50], 3, args.workers * 2)

            samples: list[tuple[float, float]] = []
            stop = False

            async def sample() -> None:
                t0 = time.perf_counter()
                while not stop:
                    samples.append((time.perf_counter() - t0, tree_rss_mb(server.pid)))
                    await asyncio.sleep(min(10.0, args.duration / 20))

            async def run_hash_load() -> dict:
                nonlocal stop
                task = asyncio.create_task(sample())
                result = await asyncio.to_thread(
                    wrk_load, url, key, queries, args.duration, args.concurrency
                )
                stop = True
                await task
                return result

            hashed = asyncio.run(run_hash_load())
            print(
                f"hash look-ups (wrk): {hashed['requests_per_s']:,.0f} req/s, p50 "
                f"{hashed['p50_ms']:.1f} ms, p99 {hashed['p99_ms']:.1f} ms, "
                f"{hashed['errors']} errors of {hashed['requests']:,}",
                flush=True,
            )
            images = [jpeg_bytes(synthetic_photo(i, 1000, 1000)).hex() for i in range(20)]
            uploads = summary(
                "1 MP JPEG uploads",
                load(url, key, "upload", images, args.upload_duration, 4),
                args.upload_duration,
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    rss = [m for _, m in samples]
    print(
        "server RSS over the hash run (s, MB): " + ", ".join(f"{t:.0f}:{m:.0f}" for t, m in samples)
    )
    half = len(rss) // 2
    growth = statistics.fmean(rss[half:]) - statistics.fmean(rss[:half]) if half else 0.0
    print(
        f"RSS first sample {rss[0]:.0f} MB, last {rss[-1]:.0f} MB, max {max(rss):.0f} MB; "
        f"second half minus first half: {growth:+.0f} MB",
        flush=True,
    )
    print(json.dumps({"hash": hashed, "upload": uploads, "rss_mb": samples, "cpu": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
