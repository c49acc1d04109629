"""`hashwarden blocklist ...`: the curator's URL block list, its hashed and RPZ exports, and
the ISP side: applying the hashed list, the resolver front, the Squid helper and the stop page."""

from __future__ import annotations

import json
import signal
import socketserver
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import (
    OldBankOpt,
    bank_and_rest,
    choose_format,
    open_bank_first,
    output,
    parse_listen,
    where,
)
from hashwarden.errors import EXIT_CLEAN, EXIT_MATCHES, NotFoundError, UsageError

if TYPE_CHECKING:
    from hashwarden.blocking.counts import BlockCounts

app = new_typer(
    "Keep the URL block list, export it hashed or as RPZ, check URLs, run the ISP side."
)

CURATOR = "The curator's list"
ISP = "The ISP side"

ListArg = Annotated[Path, typer.Argument(metavar="LIST", help="The curator's list file (SQLite).")]
AnyListArg = Annotated[
    Path,
    typer.Argument(
        metavar="LIST", help="The curator's list file, or an applied hashed list (`apply`)."
    ),
]
AppliedArg = Annotated[Path, typer.Argument(metavar="APPLIED", help="The applied hashed list.")]
DomainOpt = Annotated[
    list[str] | None,
    typer.Option("--domain", metavar="DOMAIN", help="A whole domain and its subdomains."),
]
PrefixOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--prefix",
        metavar="HOST/PATH",
        help="Ending in / the folder, else that path with any query.",
    ),
]
UrlOpt = Annotated[list[str] | None, typer.Option("--url", metavar="URL", help="An exact URL.")]
ListenOpt = Annotated[str, typer.Option(metavar="IP:PORT", help="Address to answer on.")]


def _items(
    domain: list[str] | None, prefix: list[str] | None, url: list[str] | None
) -> list[tuple[str, str]]:
    items = [("domain", d) for d in domain or []]
    items += [("prefix", p) for p in prefix or []]
    items += [("url", u) for u in url or []]
    if not items:
        raise UsageError("give at least one --domain, --prefix or --url")
    return items


@app.command("add", rich_help_panel=CURATOR)
def add_command(
    blocklist: ListArg,
    domain: DomainOpt = None,
    prefix: PrefixOpt = None,
    url: UrlOpt = None,
    source: Annotated[
        str | None, typer.Option(metavar="ORG", help="Who listed it, e.g. IWF.")
    ] = None,
    reason: Annotated[str | None, typer.Option(metavar="CODE", help="A reason code.")] = None,
    expires: Annotated[
        str | None, typer.Option(metavar="DATE", help="Expiry date, YYYY-MM-DD.")
    ] = None,
) -> None:
    """Add entries (canonicalised first); creates the list file when missing.

    Exit 9 when an entry is listed already (nothing is added then)."""
    from hashwarden.blocking.store import BlockList, parse_expiry

    items = _items(domain, prefix, url)
    with BlockList.open(blocklist, create=True) as store:
        added = store.add_many(items, source=source, reason=reason, expires=parse_expiry(expires))
        version = store.version
    for entry in added:
        console.print(f"added {entry.kind} {entry.expression}", markup=False)
    err_console.print(f"{blocklist}: version {version}")


@app.command("remove", rich_help_panel=CURATOR)
def remove_command(
    blocklist: ListArg, domain: DomainOpt = None, prefix: PrefixOpt = None, url: UrlOpt = None
) -> None:
    """Remove entries. Exit 4 when one is not listed."""
    from hashwarden.blocking.store import BlockList

    with BlockList.open(blocklist) as store:
        for kind, value in _items(domain, prefix, url):
            entry = store.remove(kind, value)
            console.print(f"removed {entry.kind} {entry.expression}", markup=False)


def _is_store(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


@app.command("check", rich_help_panel=CURATOR)
def check_command(
    blocklist: AnyListArg,
    urls: Annotated[list[str], typer.Argument(metavar="URL...", help="URLs (or bare host names).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Say for each URL whether it is blocked and by which expression.

    Exit 0 when none is blocked, 1 when any is (a result, not an error)."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.store import BlockList

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
            console.print(f"BLOCKED  {r['url']}  by {r['kind']} {r['expression']}", markup=False)
        else:
            console.print(f"allowed  {r['url']}", markup=False)
    if any(r["blocked"] for r in results):
        raise typer.Exit(EXIT_MATCHES)


EXPORT_FORMATS = ("hashed", "rpz", "rpz-delta")
_EXPORT_SUFFIXES = {".json": "hashed", ".rpz": "rpz", ".zone": "rpz"}


@app.command("export", rich_help_panel=CURATOR)
def export_command(
    blocklist: ListArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="The file to write ('-' or none: standard output).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="hashed (signed digests), rpz, or rpz-delta (IXFR form); any case. Default: "
            "from --out's suffix (.json hashed, .rpz or .zone rpz), else hashed.",
            show_default=False,
        ),
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", metavar="NAME.key", help="Private key (hashed format)."),
    ] = None,
    since: Annotated[
        int,
        typer.Option(
            min=0, metavar="VERSION", help="Version the receiver has: export only what changed."
        ),
    ] = 0,
    zone: Annotated[str, typer.Option(metavar="ZONE", help="RPZ zone name.")] = "rpz.hashwarden.",
    stop_host: Annotated[
        str | None,
        typer.Option(metavar="HOST", help="RPZ: answer listed names with a CNAME to this host."),
    ] = None,
    stop_address: Annotated[
        list[str] | None,
        typer.Option(
            metavar="IP",
            help="RPZ: answer listed names with the stop page's address (repeatable).",
        ),
    ] = None,
    nxdomain: Annotated[bool, typer.Option(help="RPZ: answer listed names NXDOMAIN.")] = False,
) -> None:
    """Write the list hashed (for distribution) or as an RPZ zone (names in clear)."""
    from hashwarden.blocking.hashed import build_update
    from hashwarden.blocking.rpz import RpzPolicy, rpz_delta, rpz_zone
    from hashwarden.blocking.store import BlockList

    by_suffix = _EXPORT_SUFFIXES.get(out.suffix.lower()) if out is not None else None
    chosen = choose_format(fmt, EXPORT_FORMATS, detected=by_suffix, default="hashed")
    with BlockList.open(blocklist) as store:
        if chosen == "hashed":
            if sign is None:
                raise UsageError("--format hashed needs --sign NAME.key")
            update = build_update(store, sign, since=since)
            with output(out) as stream:
                stream.write(json.dumps(update, separators=(",", ":")).encode())
            body = update["body"]
            err_console.print(
                f"wrote {where(out)}: {len(body['add'])} added, {len(body['remove'])} removed, "
                f"version {body['base']} to {body['serial']}",
                markup=False,
            )
            return
        if [stop_host is not None, bool(stop_address), nxdomain].count(True) != 1:
            raise UsageError("give exactly one of --stop-host, --stop-address or --nxdomain")
        policy = RpzPolicy(zone=zone, stop_host=stop_host, stop_addresses=tuple(stop_address or ()))
        text = rpz_zone(store, policy) if chosen == "rpz" else rpz_delta(store, policy, since=since)
        with output(out) as stream:
            stream.write(text.encode())
        err_console.print(
            f"wrote {where(out)} (serial {store.version}); it names listed domains in clear",
            markup=False,
        )


@app.command("list", rich_help_panel=CURATOR)
def list_command(
    blocklist: AnyListArg,
    kind: Annotated[
        str | None, typer.Option(metavar="KIND", help="Only this kind: domain, prefix or url.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """The entries of a list: expressions of the curator's list; digests of an applied one
    (which holds no expressions)."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.store import KINDS, BlockList

    if kind is not None and kind.lower() not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    wanted = kind.lower() if kind else None
    rows: list[dict[str, Any]] = []
    if _is_store(blocklist):
        with BlockList.open(blocklist, readonly=True) as store:
            for entry in store.entries(wanted):
                rows.append(
                    {
                        "kind": entry.kind,
                        "expression": entry.expression,
                        "digest": entry.digest.hex(),
                        "source": entry.source,
                        "reason": entry.reason,
                        "added": entry.added,
                        "expires": entry.expires,
                    }
                )
    else:
        for digest, record in sorted(AppliedList.load(blocklist).records.items()):
            if wanted is None or record.kind == wanted:
                rows.append(
                    {
                        "kind": record.kind,
                        "digest": digest.hex(),
                        "reason": record.reason,
                        "expires": record.expires,
                    }
                )
    for row in rows:
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        shown = row.get("expression") or row["digest"]
        extra = "  ".join(
            f"{k} {row[k]}" for k in ("source", "reason", "expires") if row.get(k) is not None
        )
        console.print(f"{row['kind']:7} {shown}  {extra}".rstrip(), markup=False)
    if not as_json:
        err_console.print(f"{len(rows)} {'entry' if len(rows) == 1 else 'entries'}")


@app.command("apply", rich_help_panel=ISP)
def apply_command(
    applied: Annotated[
        Path, typer.Argument(metavar="APPLIED", help="The applied list to create or update.")
    ],
    update: Annotated[
        Path, typer.Argument(metavar="UPDATE", help="A hashed list or delta (`export`).")
    ],
    trust: Annotated[
        Path | None,
        typer.Option(metavar="NAME.pub", help="The curator's public key; first time only."),
    ] = None,
) -> None:
    """Verify a signed hashed list or delta and apply it.

    Exit 5 when the signature does not verify, 9 for a replayed or out-of-order delta."""
    from hashwarden.blocking.hashed import apply_update

    state = apply_update(applied, update, trust=trust)
    console.print(f"{applied}: version {state.serial}, {len(state.records)} entries", markup=False)


@app.command("stats", rich_help_panel=CURATOR)
def stats_command(
    blocklist: AnyListArg,
    counts: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="A counts file: add the month's blocked attempts."),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM", help="The month of the blocked attempts (default: this month)."
        ),
    ] = None,
    top: Annotated[
        int, typer.Option(min=0, metavar="N", help="Entries to list, most blocked first.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Entries by kind and the list's version; with --counts, a month's blocked attempts per
    day and per entry (by digest; the curator's own list also shows the expression)."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.counts import BlockCounts, month_summary
    from hashwarden.blocking.store import BlockList

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


@app.command("record-stats", rich_help_panel=ISP)
def record_stats_command(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="BANK COUNTS",
            help="The bank whose statistics to add to, then a counts file (resolver, Squid "
            "helper, stop page).",
            show_default=False,
        ),
    ],
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="Region for these events.")
    ] = None,
    old_bank: OldBankOpt = None,
) -> None:
    """Add each finished day's blocked attempts to the bank's statistics (channel isp_block,
    outcome blocked), once: days already recorded are skipped. Only totals per day leave the
    counts file, not entry digests."""
    from hashwarden.blocking.counts import BlockCounts
    from hashwarden.reports.statistics import Event, record_events

    bank, rest = bank_and_rest("blocklist record-stats", args, old_bank, "COUNTS")
    if len(rest) != 1:
        raise UsageError("give the bank, then one counts file: blocklist record-stats BANK COUNTS")
    counts = Path(rest[0])
    if not counts.exists():
        raise NotFoundError(f"no counts file at {counts}")
    with BlockCounts(counts) as c:
        days = c.unexported_days()
        events = [
            Event("isp_block", "blocked", region=region, count=n, at=f"{day}T12:00:00Z")
            for day, n in days
        ]
        with open_bank_first(bank) as store:
            record_events(store, events)
        c.mark_exported([day for day, _ in days])
    total = sum(n for _, n in days)
    console.print(f"recorded {total} blocked attempts over {len(days)} day(s)")


CountsOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="Count blocked attempts per entry per day in this file (no addresses).",
    ),
]
StopHostOpt = Annotated[
    str | None,
    typer.Option(metavar="HOST", help="Answer listed names with a CNAME to this host."),
]
NxdomainOpt = Annotated[bool, typer.Option(help="Answer listed names NXDOMAIN.")]


FlushOpt = Annotated[
    float,
    typer.Option(
        min=0.001,
        metavar="SECONDS",
        help="Write the counts this often, in seconds (a crash loses at most this much); "
        "they are also written when stopped (SIGTERM, Ctrl-C).",
    ),
]


def _open_counts(path: Path | None, flush_every: float) -> BlockCounts | None:
    from hashwarden.blocking.counts import BlockCounts

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


@app.command("resolver", rich_help_panel=ISP)
def resolver_command(
    applied: AppliedArg,
    upstream: Annotated[
        str,
        typer.Option(metavar="IP[:PORT]", help="The recursive resolver to forward to."),
    ],
    listen: ListenOpt = "127.0.0.1:53",
    stop_host: StopHostOpt = None,
    stop_address: Annotated[
        list[str] | None,
        typer.Option(
            metavar="IP", help="The stop page's address, answered with the CNAME (repeatable)."
        ),
    ] = None,
    nxdomain: NxdomainOpt = False,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
    max_requests: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Stop after this many queries (tests).")
    ] = None,
) -> None:
    """A DNS front holding only the hashed list: listed names get the stop page (or
    NXDOMAIN), others are forwarded. UDP. SIGHUP reloads the applied list; SIGTERM stops it
    and writes the counts."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.resolver import DnsFront, FrontPolicy, serve_front

    if (stop_host is None) == (not nxdomain):
        raise UsageError("give exactly one of --stop-host HOST or --nxdomain")
    host, port = parse_listen(listen, default_port=53)
    matcher = AppliedList.load(applied).matcher()
    front = DnsFront(
        matcher,
        parse_listen(upstream, default_port=53, flag="--upstream"),
        FrontPolicy(stop_host, tuple(stop_address or ())),
        counts=_open_counts(counts, flush_every),
    )

    def reload(*_: object) -> None:
        front.matcher = AppliedList.load(applied).matcher()

    signal.signal(signal.SIGHUP, reload)
    server = serve_front(front, host, port, max_requests=max_requests)
    err_console.print(f"answering DNS on {host}:{port} with {len(matcher)} hashed entries")
    _serve_until_stopped(server, front.counts)


@app.command("squid-helper", rich_help_panel=ISP)
def squid_helper_command(
    applied: AppliedArg,
    mode: Annotated[
        str,
        typer.Option(
            metavar="MODE", help="acl (external_acl_type) or rewrite (url_rewrite_program)."
        ),
    ] = "acl",
    stop_url: Annotated[
        str | None, typer.Option(metavar="URL", help="rewrite mode: where blocked URLs are sent.")
    ] = None,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
) -> None:
    """Speak Squid's helper protocol on stdin/stdout (channel IDs when concurrency > 0): one
    answer per request line, in order; lines are read as bytes."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.squid import SquidHelper

    helper = SquidHelper(
        AppliedList.load(applied).matcher(),
        mode=mode,
        stop_url=stop_url,
        counts=_open_counts(counts, flush_every),
    )
    # Squid ends a helper by closing its stdin; a SIGTERM ends it the same way, counts written.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(EXIT_CLEAN))
    out = sys.stdout.buffer
    try:
        for reply in helper.run(sys.stdin.buffer):
            out.write(reply.encode("ascii") + b"\n")
            out.flush()
    finally:
        if helper.counts is not None:
            helper.counts.close()


@app.command("stoppage", rich_help_panel=ISP)
def stoppage_command(
    listen: ListenOpt = "127.0.0.1:8080",
    operator: Annotated[
        str, typer.Option(metavar="NAME", help="Your organisation's name on the page.")
    ] = "Your internet provider",
    help_line: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="Help-line text for people worried about their own thoughts."
        ),
    ] = None,
    law: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Text for the law paragraph.")
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder of stoppage.<lang>.html templates."),
    ] = None,
    language: Annotated[
        str, typer.Option(metavar="LANG", help="Language when the browser's is absent.")
    ] = "en",
    applied: Annotated[
        Path | None,
        typer.Option("--list", metavar="APPLIED", help="Applied hashed list, to count visits."),
    ] = None,
    counts: CountsOpt = None,
    flush_every: FlushOpt = 60.0,
    max_requests: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Stop after this many requests (tests)."),
    ] = None,
) -> None:
    """Serve the stop page blocked visitors see.

    No outside resources, nothing logged. SIGTERM stops it and writes the counts."""
    from hashwarden.blocking.applied import AppliedList
    from hashwarden.blocking.stoppage import StopPage, serve_stop_page

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
    host, port = parse_listen(listen, default_port=80)
    server = serve_stop_page(page, host, port, max_requests=max_requests)
    err_console.print(f"serving the stop page on http://{host}:{port}/ ({', '.join(page.pages)})")
    _serve_until_stopped(server, page.counts)
