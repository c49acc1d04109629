"""`hashwarden blocklist ...`: the curator's URL block list, its hashed and RPZ exports, the
ISP-side look-ups (resolver front, Squid helper); `hashwarden stoppage`: the stop page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hashwarden.blocking.hashed import AppliedList, apply_update, build_update
from hashwarden.blocking.store import BlockList, parse_expiry
from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.errors import UsageError

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
    nxdomain: Annotated[bool, typer.Option(help="RPZ: answer listed names NXDOMAIN.")] = False,
) -> None:
    """Write the list hashed (for distribution) or as an RPZ zone (names in clear)."""
    with BlockList.open(blocklist) as store:
        if fmt == "hashed":
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

        if (stop_host is None) == (not nxdomain):
            raise UsageError("give exactly one of --stop-host HOST or --nxdomain")
        policy = RpzPolicy(zone=zone, stop_host=stop_host)
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
    state = apply_update(applied, update, trust=trust)
    console.print(f"{applied}: version {state.serial}, {len(state.records)} entries")


@app.command("stats")
def stats_command(
    blocklist: AnyListArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Entries by kind and the list's version."""
    if _is_store(blocklist):
        with BlockList.open(blocklist, readonly=True) as store:
            info: dict[str, Any] = {
                "list": store.list_id,
                "version": store.version,
                "entries": store.counts(),
            }
    else:
        applied = AppliedList.load(blocklist)
        kinds: dict[str, int] = {}
        for record in applied.records.values():
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
        info = {"list": applied.list_id, "version": applied.serial, "entries": kinds}
    if as_json:
        print(json.dumps(info))
        return
    console.print(f"list {info['list']}  version {info['version']}")
    for kind, n in info["entries"].items():
        console.print(f"  {kind:7} {n}")
