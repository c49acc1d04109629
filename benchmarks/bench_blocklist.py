"""Block list look-ups per second and applied-list load on a 1-million-entry hashed list.

hashwarden: the applied list as ISPs hold it (binary, memory-mapped, searched in place) and, for
comparison, as 0.1 held it (JSON parsed into sets of digests), over SHA-256 digests of
canonical expressions (60% whole domains, 25% host/path prefixes, 15% exact URLs), answering
full URLs with Safe Browsing's host-suffix and path-prefix rules (canonicalisation included),
and DNS names against the domain entries; the load of each form, and the start of a Squid
helper process (imports, load, one answer).
Anchor: python-threatexchange's URL MD5 signal (`UrlMD5Signal.hash_from_str`, its URL
normalisation and MD5) in its `TrivialSignalTypeIndex`; it matches exact URLs only, so it does
less work per look-up than we do. Both sides answer the same URLs in one process, one core.

    python benchmarks/bench_blocklist.py [--size 1000000] [--queries 200000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def expressions(size: int) -> list[str]:
    out = []
    for i in range(size):
        r = i % 20
        if r < 12:
            out.append(f"site{i}.example/")
        elif r < 17:
            out.append(f"files{i}.example/dir{i % 7}/")
        else:
            out.append(f"pics{i}.example/view.php?id={i}")
    return out


def queries(size: int, count: int, rng: random.Random) -> dict[str, list[str]]:
    """Listed (half under a listed domain or prefix) and unlisted URLs, and DNS names (unlisted;
    `hit_names`, under listed domains, to check the answers)."""
    hit, miss, names, hit_names = [], [], [], []
    for _ in range(count):
        i = rng.randrange(size)
        r = i % 20
        if r < 12:
            hit.append(f"http://www.site{i}.example/some/page.html?x={i}")
            hit_names.append(f"cdn.site{i}.example")
        elif r < 17:
            hit.append(f"https://files{i}.example/dir{i % 7}/img/{i}.jpg")
        else:
            hit.append(f"http://pics{i}.example/view.php?id={i}")
        miss.append(f"http://www.news{i}.example/article/{i}/index.html?page=2")
        names.append(f"cdn{i % 5}.shop{i}.example")
    return {"hit": hit, "miss": miss, "names": names, "hit_names": hit_names}


def rate(fn: object, items: list[str]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)  # type: ignore[operator]
    return len(items) / (time.perf_counter() - start)


def records_of(exprs: list[str]) -> dict[bytes, object]:
    from hashwarden.blocking.applied import Record
    from hashwarden.blocking.canonical import digest, host_key

    kinds = ("domain", "prefix", "url")
    return {
        digest(e): Record(kinds[("?" in e) * 2 or ("/dir" in e)], "A1", None, host_key(e))
        for e in exprs
    }


def save_json_0_1(records: dict[bytes, object], path: Path) -> None:
    """The applied list as hashwarden 0.1 wrote it (JSON), for the load before."""
    rows = sorted(
        [d.hex(), r.kind, r.reason, r.expires, r.host.hex()]  # type: ignore[attr-defined]
        for d, r in records.items()
    )
    doc = {"format": "hashwarden-blocklist-applied", "list": "bench", "key": "key", "serial": 1}
    path.write_text(json.dumps({**doc, "records": rows}, separators=(",", ":")))


def load_json_0_1(path: Path) -> tuple[set[bytes], set[bytes]]:
    """hashwarden 0.1's `AppliedList.load(path).matcher()`: the JSON parsed into records, then
    sets of the live digests and host keys."""
    from hashwarden.blocking.applied import Record

    doc = json.loads(path.read_bytes())
    records = {
        bytes.fromhex(h): Record(kind, reason, expires, bytes.fromhex(host))
        for h, kind, reason, expires, host in doc["records"]
    }
    today = datetime.now(UTC).date().isoformat()
    live = [(d, r.host) for d, r in records.items() if r.expires is None or r.expires > today]
    return {d for d, _ in live}, {h for _, h in live}


class SetMatcher:
    """hashwarden 0.1's look-up over sets of digests and host keys (for comparison)."""

    def __init__(self, digests: set[bytes], hosts: set[bytes]) -> None:
        self.digests, self.hosts = digests, hosts

    def check_url(self, url: str) -> bool:
        from hashwarden.blocking.canonical import canonicalize, host_suffixes, path_prefixes

        canonical = canonicalize(url)
        paths = None
        for host in host_suffixes(canonical):
            if hashlib.sha256(host.encode()).digest()[:8] not in self.hosts:
                continue
            paths = paths or path_prefixes(canonical)
            for path in paths:
                if hashlib.sha256((host + path).encode()).digest() in self.digests:
                    return True
        return False

    def check_name(self, name: str) -> bool:
        labels = name.lower().rstrip(".").split(".")
        for n in range(len(labels), 1, -1):
            host = ".".join(labels[-n:])
            if (
                hashlib.sha256(host.encode()).digest()[:8] in self.hosts
                and hashlib.sha256((host + "/").encode()).digest() in self.digests
            ):
                return True
        return False


HELPER_START = """
import sys
from pathlib import Path
from hashwarden.blocking.applied import AppliedList
from hashwarden.blocking.squid import SquidHelper
helper = SquidHelper(AppliedList.load(Path(sys.argv[1])).matcher())
print(helper.answer(sys.argv[2]))
"""


def check(matcher: Any, q: dict[str, list[str]]) -> None:
    """The answers are right (listed found, unlisted not), on 1,000 of each."""
    assert all(matcher.check_url(u) for u in q["hit"][:1000])
    assert not any(matcher.check_url(u) for u in q["miss"][:1000])
    assert all(matcher.check_name(n) for n in q["hit_names"][:1000])
    assert not any(matcher.check_name(n) for n in q["names"][:1000])


def ours(
    exprs: list[str], q: dict[str, list[str]]
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The applied list as ISPs hold it now (binary, mapped) and as 0.1 held it (JSON, sets)."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.canonical import digest

    records = records_of(exprs)
    now: dict[str, float] = {}
    old: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        binary, text = Path(tmp) / "applied", Path(tmp) / "applied.json"
        start = time.perf_counter()
        AppliedList("bench", "key", 1, records).save(binary)
        now["write_s"] = time.perf_counter() - start
        save_json_0_1(records, text)
        del records
        for path, result in ((binary, now), (text, old)):
            result["file_mb"] = path.stat().st_size / 1e6
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        matcher = AppliedList.load(binary).matcher()
        now["load_s"] = time.perf_counter() - start
        check(matcher, q)
        # Pages of the file the look-ups touched (shared with every process mapping it).
        now["memory_mb"] = rss_mb() - before
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        sets = SetMatcher(*load_json_0_1(text))
        old["load_s"] = time.perf_counter() - start
        check(sets, q)
        old["memory_mb"] = rss_mb() - before
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", HELPER_START, str(binary), "http://www.site0.example/"],
            capture_output=True,
            text=True,
        )
        now["helper_start_s"] = time.perf_counter() - start
        assert done.stdout.strip() == "OK", done.stderr
        delta_removed = [digest(e) for e in exprs[:1000]]
        delta_added = records_of([f"new{i}.example/" for i in range(1000)])
        start = time.perf_counter()
        base = AppliedList.load(binary)
        AppliedList("bench", "key", 2, base.records).save(
            binary, remove=delta_removed, add=delta_added
        )
        now["delta_s"] = time.perf_counter() - start
    return {"now": now, "old": old}, {"now": matcher, "old": sets}


def anchor(exprs: list[str]) -> tuple[dict[str, float], Callable[[str], object]]:
    from threatexchange.signal_type.signal_base import TrivialSignalTypeIndex
    from threatexchange.signal_type.url_md5 import UrlMD5Signal

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    index: TrivialSignalTypeIndex[int] = TrivialSignalTypeIndex()
    for i, e in enumerate(exprs):
        index.add(UrlMD5Signal.hash_from_str("http://" + e), i)
    build = time.perf_counter() - start
    memory = rss_mb() - before

    def look(url: str) -> object:
        return index.query(UrlMD5Signal.hash_from_str(url))

    return {"build_s": build, "memory_mb": memory}, look


def look_ups(
    sides: dict[str, dict[str, Callable[[str], object]]],
    q: dict[str, list[str]],
    rounds: int,
) -> dict[str, dict[str, float]]:
    """Look-ups a second per side and kind: the best of `rounds`, the sides interleaved, so
    that a busy spell of the shared machine does not fall on one side only."""
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    for _ in range(rounds):
        for side, functions in sides.items():
            for key, kind in (
                ("hit_per_s", "hit"),
                ("miss_per_s", "miss"),
                ("names_per_s", "names"),
            ):
                if key in functions:
                    found = rate(functions[key], q[kind])
                    best[side][key] = max(best[side].get(key, 0.0), found)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="look-up rounds (best counts)")
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 20,000 queries")
    args = parser.parse_args()
    size, count = (10_000, 20_000) if args.quick else (args.size, args.queries)
    exprs = expressions(size)
    q = queries(size, count, random.Random(7))
    print(
        f"block list: {size:,} entries, {count:,} queries of each kind, one core, "
        f"best of {args.rounds} interleaved rounds"
    )
    mine, matchers = ours(exprs, q)
    sides: dict[str, dict[str, Callable[[str], object]]] = {
        name: {
            "hit_per_s": m.check_url,
            "miss_per_s": m.check_url,
            "names_per_s": m.check_name,
        }
        for name, m in matchers.items()
    }
    try:
        theirs: dict[str, float] | None
        theirs, look = anchor(exprs)
        sides["anchor"] = {"hit_per_s": look, "miss_per_s": look}
    except ImportError:
        theirs = None
        print("(python-threatexchange not installed: pip install -r benchmarks/requirements.txt)")
    for side, figures in look_ups(sides, q, args.rounds).items():
        (theirs if side == "anchor" else mine[side]).update(figures)  # type: ignore[union-attr]
    rows = [
        ("URL look-ups/s, listed", "hit_per_s"),
        ("URL look-ups/s, unlisted", "miss_per_s"),
        ("DNS name look-ups/s", "names_per_s"),
        ("memory (MB)", "memory_mb"),
        ("applied list file (MB)", "file_mb"),
        ("applied list load (ms)", "load_ms"),
        ("write a full applied list (s)", "write_s"),
        ("apply a 1,000-entry delta (s)", "delta_s"),
        ("Squid helper process start (s)", "helper_start_s"),
    ]
    now, old = mine["now"], mine["old"]
    for result in (now, old):
        result["load_ms"] = result["load_s"] * 1e3
    print(f"{'':32} {'mapped':>11} {'0.1 JSON':>11} {'pytx UrlMD5':>12} {'vs pytx':>8}")
    for label, key in rows:
        a = theirs.get(key) if theirs else None
        ratio = f"{now[key] / a:7.2f}x" if a and a >= 1 else ""
        cells = [
            f"{v:11,.2f}" if v is not None else f"{'-':>11}" for v in (now.get(key), old.get(key))
        ]
        a_text = f"{a:12,.1f}" if a is not None else f"{'-':>12}"
        print(f"{label:32} {cells[0]} {cells[1]} {a_text} {ratio:>8}")
    print(f"applied list load: {old['load_s'] / now['load_s']:,.0f}x faster than the JSON form")
    print(f"anchor build of its index: {theirs['build_s']:.1f} s" if theirs else "")


if __name__ == "__main__":
    main()
