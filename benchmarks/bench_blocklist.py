"""Block list look-ups per second on a 1-million-entry hashed list, beside python-threatexchange.

hashwarden: a `Matcher` over SHA-256 digests of canonical expressions (60% whole domains, 25%
host/path prefixes, 15% exact URLs), answering full URLs with Safe Browsing's host-suffix and
path-prefix rules (canonicalisation included), and DNS names against the domain entries.
Anchor: python-threatexchange's URL MD5 signal (`UrlMD5Signal.hash_from_str`, its URL
normalisation and MD5) in its `TrivialSignalTypeIndex`; it matches exact URLs only, so it does
less work per look-up than we do. Both sides answer the same URLs in one process, one core.

    python benchmarks/bench_blocklist.py [--size 1000000] [--queries 200000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from pathlib import Path


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
    """Listed (half under a listed domain or prefix) and unlisted URLs, and DNS names."""
    hit, miss, names = [], [], []
    for _ in range(count):
        i = rng.randrange(size)
        r = i % 20
        if r < 12:
            hit.append(f"http://www.site{i}.example/some/page.html?x={i}")
        elif r < 17:
            hit.append(f"https://files{i}.example/dir{i % 7}/img/{i}.jpg")
        else:
            hit.append(f"http://pics{i}.example/view.php?id={i}")
        miss.append(f"http://www.news{i}.example/article/{i}/index.html?page=2")
        names.append(f"cdn{i % 5}.shop{i}.example")
    return {"hit": hit, "miss": miss, "names": names}


def rate(fn: object, items: list[str]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)  # type: ignore[operator]
    return len(items) / (time.perf_counter() - start)


def ours(exprs: list[str], q: dict[str, list[str]]) -> dict[str, float]:
    from hashwarden.blocking.applied import AppliedList, Matcher, Record
    from hashwarden.blocking.canonical import digest, host_key

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    matcher = Matcher({digest(e) for e in exprs}, {host_key(e) for e in exprs})
    build = time.perf_counter() - start
    memory = rss_mb() - before
    assert all(matcher.check_url(u) for u in q["hit"][:1000])
    assert not any(matcher.check_url(u) for u in q["miss"][:1000])
    result = {
        "build_s": build,
        "memory_mb": memory,
        "hit_per_s": rate(matcher.check_url, q["hit"]),
        "miss_per_s": rate(matcher.check_url, q["miss"]),
        "names_per_s": rate(matcher.check_name, q["names"]),
    }
    records = {
        digest(e): Record("domain", None, None, host_key(e)) for e in exprs
    }  # file size and load time of the applied list an ISP keeps
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "applied.json"
        AppliedList("bench", "key", 1, records).save(path)
        del records
        start = time.perf_counter()
        AppliedList.load(path).matcher()
        result["load_s"] = time.perf_counter() - start
        result["file_mb"] = path.stat().st_size / 1e6
    return result


def anchor(exprs: list[str], q: dict[str, list[str]]) -> dict[str, float]:
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

    return {
        "build_s": build,
        "memory_mb": memory,
        "hit_per_s": rate(look, q["hit"]),
        "miss_per_s": rate(look, q["miss"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 20,000 queries")
    args = parser.parse_args()
    size, count = (10_000, 20_000) if args.quick else (args.size, args.queries)
    exprs = expressions(size)
    q = queries(size, count, random.Random(7))
    print(f"block list: {size:,} entries, {count:,} queries of each kind, one core")
    mine = ours(exprs, q)
    try:
        theirs: dict[str, float] | None = anchor(exprs, q)
    except ImportError:
        theirs = None
        print("(python-threatexchange not installed: pip install -r benchmarks/requirements.txt)")
    rows = [
        ("URL look-ups/s, listed", "hit_per_s"),
        ("URL look-ups/s, unlisted", "miss_per_s"),
        ("DNS name look-ups/s", "names_per_s"),
        ("build (s)", "build_s"),
        ("memory (MB)", "memory_mb"),
        ("applied list file (MB)", "file_mb"),
        ("applied list load (s)", "load_s"),
    ]
    print(f"{'':28} {'hashwarden':>12} {'pytx UrlMD5':>12} {'ratio':>7}")
    for label, key in rows:
        a = theirs.get(key) if theirs else None
        ratio = f"{mine[key] / a:6.2f}x" if a else ""
        a_text = f"{a:12,.1f}" if a is not None else f"{'-':>12}"
        print(f"{label:28} {mine[key]:12,.1f} {a_text} {ratio:>7}")


if __name__ == "__main__":
    main()
