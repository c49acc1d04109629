"""`hashwarden blocklist ...`: the curator's URL block list, its hashed and RPZ exports, the
ISP-side look-ups (resolver front, Squid helper); `hashwarden stoppage`: the stop page."""

from __future__ import annotations

import json
import signal
import socketserver
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from hashwarden.blocking.applied import AppliedList
from hashwarden.blocking.counts import BlockCounts, month_summary
from hashwarden.blocking.resolver import DnsFront, FrontPolicy, parse_hostport, serve_front
from hashwarden.blocking.squid import SquidHelper
from hashwarden.blocking.stoppage import StopPage, serve_stop_page
from hashwarden.blocking.store import BlockList, parse_expiry
from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.errors import NotFoundError, UsageError

app = new_typer("URL block list for ISPs: keep it, export it hashed or as RPZ, check URLs.")

ListArg = Annotated[Path, typer.Argument(help="The curator's list file (SQLite).")]
AnyListArg = Annotated[
    Path, typer.Argument(help="The curator's list file, or an applied hashed list (`apply`).")
]
DomainOpt = Annotated[
    list[str] | None, typer.Option("--domain", help="A whole domain and its subdomains.")
]
PrefixOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--prefix", help="HOST/PATH: ending in / the folder, else that path with any query."
    ),
]
UrlOpt = Annotated[list[str] | None, typer.Option("--url", help="An exact URL.")]


def _items(
    domain: list[str] | None, prefix: list[str] | None, url: list[str] | None
) -> list[tuple[str, str]]:
    items = [("domain", d) for d in domain or []]
    items += [("prefix", p) for p in prefix or []]
    items += [("url", u) for u in url or []]
    if not items:
        raise UsageError("give at least one --domain, --prefix or --url")
    return items


@app.command("add")
def add_command(
    blocklist: ListArg,
    domain: DomainOpt = None,
    prefix: PrefixOpt = None,
    url: UrlOpt = None,
    source: Annotated[str | None, typer.Option(help="Who listed it, e.g. IWF.")] = None,
    reason: Annotated[str | None, typer.Option(help="A reason code.")] = None,
    expires: Annotated[str | None, typer.Option(help="Expiry date, YYYY-MM-DD.")] = None,
) -> None:
    """Add entries (canonicalised first); creates the list file when missing.

    Exit 9 when an entry is listed already (nothing is added then)."""
    items = _items(domain, prefix, url)
    with BlockList.open(blocklist, create=True) as store:
        added = store.add_many(items, source=source, reason=reason, expires=parse_expiry(expires))
        version = store.version
    for entry in added:
        console.print(f"added {entry.kind} {entry.expression}")
    err_console.print(f"{blocklist}: version {version}")


@app.command("remove")
def remove_command(
    blocklist: ListArg, domain: DomainOpt = None, prefix: PrefixOpt = None, url: UrlOpt = None
) -> None:
    """Remove entries. Exit 4 when one is not listed."""
    with BlockList.open(blocklist) as store:
        for kind, value in _items(domain, prefix, url):
            entry = store.remove(kind, value)
            console.print(f"removed {entry.kind} {entry.expression}")


def _is_store(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


@app.command("check")
def check_command(
    blocklist: AnyListArg,
    urls: Annotated[list[str], typer.Argument(help="URLs (or bare host names).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Say for each URL whether it is blocked and by which expression.

    Exit 0 when none is blocked, 1 when any is (a result, not an error)."""
    results: list[dict[str, Any]] = []
    if _is_store(blocklist):
        with BlockList.open(blocklist, readonly=True) as store:
            for url in urls:
                entry = store.check(url)
                results.append(
                    {"url": url, "blocked": entry is not None}
                    | (
                        {}
                        if entry is None
                        else {
                            "expression": entry.expression,
                            "kind": entry.kind,
                            "digest": entry.digest.hex(),
                            "source": entry.source,
                            "reason": entry.reason,
                        }
                    )
                )
    else:
        applied = AppliedList.load(blocklist)
        matcher = applied.matcher()
        for url in urls:
            hit = matcher.check_url(url)
            record: dict[str, Any] = {"url": url, "blocked": hit is not None}
            if hit is not None:
                found = applied.records[hit.digest]
                record |= {
                    "expression": hit.expression,
                    "kind": found.kind,
                    "digest": hit.digest.hex(),
                    "reason": found.reason,
                }
            results.append(record)
    for r in results:
        if as_json:
            print(json.dumps(r, ensure_ascii=False))
        elif r["blocked"]:
            console.print(f"BLOCKED  {r['url']}  by {r['kind']} {r['expression']}")
        else:
            console.print(f"allowed  {r['url']}")
    if any(r["blocked"] for r in results):
        raise typer.Exit(1)


@app.command("export")
def export_command(
    blocklist: ListArg,
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    fmt: Annotated[
        str,
        typer.Option("--format", help="hashed (signed digests), rpz, or rpz-delta (IXFR form)."),
    ] = "hashed",
    sign: Annotated[
        Path | None, typer.Option("--sign", help="Private key (hashed format): NAME.key.")
    ] = None,
    since: Annotated[
        int, typer.Option(min=0, help="Version the receiver has: export only what changed.")
    ] = 0,
    zone: Annotated[str, typer.Option(help="RPZ zone name.")] = "rpz.hashwarden.",
    stop_host: Annotated[
        str | None, typer.Option(help="RPZ: answer listed names with a CNAME to this host.")
    ] = None,
    stop_address: Annotated[
        list[str] | None,
        typer.Option(help="RPZ: answer listed names with the stop page's address (repeatable)."),
    ] = None,
    nxdomain: Annotated[bool, typer.Option(help="RPZ: answer listed names NXDOMAIN.")] = False,
) -> None:
    """Write the list hashed (for distribution) or as an RPZ zone (names in clear)."""
    with BlockList.open(blocklist) as store:
        if fmt == "hashed":
            from hashwarden.blocking.hashed import build_update

            if sign is None:
                raise UsageError("--format hashed needs --sign NAME.key")
            update = build_update(store, sign, since=since)
            out.write_text(json.dumps(update, separators=(",", ":")))
            body = update["body"]
            err_console.print(
                f"wrote {out}: {len(body['add'])} added, {len(body['remove'])} removed, "
                f"version {body['base']} to {body['serial']}"
            )
            return
        from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone

        if [stop_host is not None, bool(stop_address), nxdomain].count(True) != 1:
            raise UsageError("give exactly one of --stop-host, --stop-address or --nxdomain")
        policy = RpzPolicy(zone=zone, stop_host=stop_host, stop_addresses=tuple(stop_address or ()))
        if fmt == "rpz":
            text = rpz_zone(store, policy)
        elif fmt == "rpz-delta":
            text = rpz_delta(store, policy, since=since)
        else:
            raise UsageError(f"--format must be hashed, rpz or rpz-delta, not {fmt!r}")
        out.write_text(text)
        err_console.print(f"wrote {out} (serial {store.version}); it names listed domains in clear")


@app.command("apply")
def apply_command(
    applied: Annotated[Path, typer.Argument(help="The applied list to create or update.")],
    update: Annotated[Path, typer.Argument(help="A hashed list or delta (`export`).")],
    trust: Annotated[
        Path | None, typer.Option(help="The curator's public key (NAME.pub); first time only.")
    ] = None,
) -> None:
    """Verify a signed hashed list or delta and apply it.

    Exit 5 when the signature does not verify, 9 for a replayed or out-of-order delta."""
    from hashwarden.blocking.hashed import apply_update

    state = apply_update(applied, update, trust=trust)
    console.print(f"{applied}: version {state.serial}, {len(state.records)} entries")


@app.command("stats")
def stats_command(
    blocklist: AnyListArg,
    counts: Annotated[
        Path | None, typer.Option(help="A counts file: add the month's blocked attempts.")
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM for the blocked attempts (default: this month).")
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="Entries to list, most blocked first.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Entries by kind and the list's version; with --counts, a month's blocked attempts per
    day and per entry (by digest; the curator's own list also shows the expression)."""
    names: dict[str, str] = {}
    if _is_store(blocklist):
        with BlockList.open(blocklist, readonly=True) as store:
            info: dict[str, Any] = {
                "list": store.list_id,
                "version": store.version,
                "entries": store.counts(),
            }
            if counts is not None:
                names = {e.digest.hex(): e.expression for e in store.entries()}
    else:
        applied = AppliedList.load(blocklist)
        kinds: dict[str, int] = {}
        for record in applied.records.values():
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
        info = {"list": applied.list_id, "version": applied.serial, "entries": kinds}
    if counts is not None:
        if not counts.exists():
            raise NotFoundError(f"no counts file at {counts}")
        with BlockCounts(counts) as c:
            summary = month_summary(c, month)
        info["blocked"] = {
            "month": summary.month,
            "total": summary.total,
            "by_day": summary.by_day,
            "by_entry": dict(list(summary.by_entry.items())[:top]),
        }
    if as_json:
        print(json.dumps(info))
        return
    console.print(f"list {info['list']}  version {info['version']}")
    for kind, n in info["entries"].items():
        console.print(f"  {kind:7} {n}")
    if "blocked" in info:
        blocked = info["blocked"]
        console.print(f"blocked attempts in {blocked['month']}: {blocked['total']}")
        for day, n in blocked["by_day"].items():
            console.print(f"  {day}  {n}")
        if blocked["by_entry"]:
            console.print("most blocked entries:")
        for entry, n in blocked["by_entry"].items():
            console.print(f"  {entry[:16]}  {n}  {names.get(entry, '')}".rstrip())


@app.command("record-stats")
def record_stats_command(
    counts: Annotated[
        Path, typer.Argument(help="A counts file (resolver, Squid helper, stop page).")
    ],
    bank: Annotated[str, typer.Option("--bank", help="The bank whose statistics to add to.")],
    region: Annotated[str | None, typer.Option(help="Region for these events.")] = None,
) -> None:
    """Add each finished day's blocked attempts to the bank's statistics (channel isp_block,
    outcome blocked), once: days already recorded are skipped. Only totals per day leave the
    counts file, not entry digests."""
    from hashwarden.bank import open_bank
    from hashwarden.reports.statistics import Event, record_events

    if not counts.exists():
        raise NotFoundError(f"no counts file at {counts}")
    with BlockCounts(counts) as c:
        days = c.unexported_days()
        events = [
            Event("isp_block", "blocked", region=region, count=n, at=f"{day}T12:00:00Z")
            for day, n in days
        ]
        with open_bank(bank) as store:
            record_events(store, events)
        c.mark_exported([day for day, _ in days])
    total = sum(n for _, n in days)
    console.print(f"recorded {total} blocked attempts over {len(days)} day(s)")


CountsOpt = Annotated[
    Path | None,
    typer.Option(help="Count blocked attempts per entry per day in this file (no addresses)."),
]
StopHostOpt = Annotated[
    str | None, typer.Option(help="Answer listed names with a CNAME to this host.")
]
NxdomainOpt = Annotated[bool, typer.Option(help="Answer listed names NXDOMAIN.")]


FlushOpt = Annotated[
    float,
    typer.Option(
        min=0.001,
        help="Write the counts this often, in seconds (a crash loses at most this much); "
        "they are also written when stopped (SIGTERM, Ctrl-C).",
    ),
]


def _open_counts(path: Path | None, flush_every: float) -> BlockCounts | None:
    return BlockCounts(path, flush_every=flush_every) if path is not None else None


def _serve_until_stopped(server: socketserver.BaseServer, counts: BlockCounts | None) -> None:
    """Serve until SIGTERM or SIGINT (or the request bound), then close the server and write
    the counts. systemd and Docker stop a service with SIGTERM, whose default would end the
    process with the counts since the last interval unwritten."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, and that runs on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
        if counts is not None:
            counts.close()


@app.command("resolver")
def resolver_command(
    applied: Annotated[Path, typer.Argument(help="The applied hashed list.")],
    upstream: Annotated[str, typer.Option(help="The recursive resolver to forward to, IP[:port].")],
    listen: Annotated[str, typer.Option(help="Address to answer on, IP[:port].")] = "127.0.0.1:53",
    stop_host: StopHostOpt = None,
    stop_address: Annotated[
        list[str] | None,
        typer.Option(help="The stop page's address, answered with the CNAME (repeatable)."),
    ] = None,
    nxdomain: NxdomainOpt = False,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
    max_requests: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many queries (tests).")
    ] = None,
) -> None:
    """A DNS front holding only the hashed list: listed names get the stop page (or
    NXDOMAIN), others are forwarded. UDP. SIGHUP reloads the applied list; SIGTERM stops it
    and writes the counts."""
    if (stop_host is None) == (not nxdomain):
        raise UsageError("give exactly one of --stop-host HOST or --nxdomain")
    host, port = parse_hostport(listen)
    matcher = AppliedList.load(applied).matcher()
    front = DnsFront(
        matcher,
        parse_hostport(upstream),
        FrontPolicy(stop_host, tuple(stop_address or ())),
        counts=_open_counts(counts, flush_every),
    )

    def reload(*_: object) -> None:
        front.matcher = AppliedList.load(applied).matcher()

    signal.signal(signal.SIGHUP, reload)
    server = serve_front(front, host, port, max_requests=max_requests)
    err_console.print(f"answering DNS on {host}:{port} with {len(matcher)} hashed entries")
    _serve_until_stopped(server, front.counts)


@app.command("squid-helper")
def squid_helper_command(
    applied: Annotated[Path, typer.Argument(help="The applied hashed list.")],
    mode: Annotated[
        str, typer.Option(help="acl (external_acl_type) or rewrite (url_rewrite_program).")
    ] = "acl",
    stop_url: Annotated[
        str | None, typer.Option(help="rewrite mode: where blocked URLs are sent.")
    ] = None,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
) -> None:
    """Speak Squid's helper protocol on stdin/stdout (channel IDs when concurrency > 0): one
    answer per request line, in order; lines are read as bytes."""
    helper = SquidHelper(
        AppliedList.load(applied).matcher(),
        mode=mode,
        stop_url=stop_url,
        counts=_open_counts(counts, flush_every),
    )
    # Squid ends a helper by closing its stdin; a SIGTERM ends it the same way, counts written.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    out = sys.stdout.buffer
    try:
        for reply in helper.run(sys.stdin.buffer):
            out.write(reply.encode("ascii") + b"\n")
            out.flush()
    finally:
        if helper.counts is not None:
            helper.counts.close()


def stoppage_command(
    listen: Annotated[str, typer.Option(help="Address to serve on, IP[:port].")] = "127.0.0.1:8080",
    operator: Annotated[str, typer.Option(help="Your organisation's name on the page.")] = (
        "Your internet provider"
    ),
    help_line: Annotated[
        str | None,
        typer.Option(help="Help-line text for people worried about their own thoughts."),
    ] = None,
    law: Annotated[str | None, typer.Option(help="Text for the law paragraph.")] = None,
    templates: Annotated[
        Path | None, typer.Option(help="Folder of stoppage.<lang>.html templates.")
    ] = None,
    language: Annotated[str, typer.Option(help="Language when the browser's is absent.")] = "en",
    applied: Annotated[
        Path | None, typer.Option("--list", help="Applied hashed list, to count visits.")
    ] = None,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
    max_requests: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many requests (tests).")
    ] = None,
) -> None:
    """Serve the stop page blocked visitors see (no outside resources, nothing logged).
    SIGTERM stops it and writes the counts."""
    if (applied is None) != (counts is None):
        raise UsageError("--list and --counts go together")
    page = StopPage(
        operator=operator,
        help_line=help_line,
        law=law,
        templates=templates,
        default_language=language,
        matcher=AppliedList.load(applied).matcher() if applied is not None else None,
        counts=_open_counts(counts, flush_every),
    )
    host, port = parse_hostport(listen, default_port=80)
    server = serve_stop_page(page, host, port, max_requests=max_requests)
    err_console.print(f"serving the stop page on http://{host}:{port}/ ({', '.join(page.pages)})")
    _serve_until_stopped(server, page.counts)
