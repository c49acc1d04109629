"""`hashwarden bank ...`: create, fill, search, inspect and verify a hash bank."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._options import (
    BankArg,
    JsonOpt,
    Md5Opt,
    PdqModeOpt,
    PdqOpt,
    Sha1Opt,
    Sha256Opt,
    VictimOpt,
    WorkersOpt,
    check_paths,
    check_pdq_mode,
    choose_format,
    keep_index_current,
    open_bank_first,
    output,
    signals_given,
    where,
)
from hashwarden.cli._progress import hashed_files, progress_bar
from hashwarden.errors import EXIT_ERRORS, EXIT_INTEGRITY, NotFoundError, UsageError

if TYPE_CHECKING:
    from hashwarden.bank import AddResult, Bank, Entry, NewEntry

app = new_typer("Create, fill, search, inspect and verify a hash bank.")

FILL = "Create and fill"
INSPECT = "Search and inspect"
SHARE = "Share"

CategoryOpt = Annotated[
    str,
    typer.Option(
        "--category",
        "-c",
        metavar="CATEGORY",
        help="Category: a hashwarden name, a Project VIC number or a UK letter.",
    ),
]
SeriesOpt = Annotated[str | None, typer.Option(metavar="NAME", help="Series name.")]
SourceOpt = Annotated[str | None, typer.Option(metavar="ORG", help="Contributing organisation.")]
KindOpt = Annotated[str | None, typer.Option(metavar="KIND", help="Only this kind.")]

IMPORT_FORMATS = ("plain", "csv", "vics", "icse", "hma", "nsrl")
EXPORT_FORMATS = ("plain", "csv", "vics", "icse", "hma", "bloom")


def read_bloom_key(path: Path) -> bytes:
    """The secret of a keyed Bloom filter: a file of 16 to 4096 bytes (e.g. `head -c 32
    /dev/urandom`)."""
    try:
        with path.open("rb") as stream:
            key = stream.read(4097)
    except OSError as exc:
        raise NotFoundError(f"{path}: cannot read the Bloom filter key ({exc.strerror})") from exc
    if not 16 <= len(key) <= 4096:
        raise UsageError(f"{path}: a Bloom filter key is 16 to 4096 bytes, not {len(key)}")
    return key


def _category(text: str) -> str:
    from hashwarden.bank import parse_category

    return parse_category(text)


@app.command(rich_help_panel=FILL)
def init(bank: BankArg) -> None:
    """Create a new, empty bank."""
    from hashwarden.bank import create_bank

    with create_bank(bank) as b:
        console.print(f"created bank {bank} (id {b.bank_id})", markup=False)


@app.command(rich_help_panel=FILL)
def add(
    bank: BankArg,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    category: CategoryOpt = "uncategorised",
    series: SeriesOpt = None,
    source: SourceOpt = None,
    victim_identified: VictimOpt = False,
    first_seen: Annotated[
        str | None, typer.Option(metavar="DATE", help="When first seen (ISO date).")
    ] = None,
    note: Annotated[str | None, typer.Option(metavar="TEXT", help="Free note.")] = None,
) -> None:
    """Add one entry from hash values given on the command line."""
    from hashwarden.bank import NewEntry

    signals = signals_given(md5=md5, sha1=sha1, sha256=sha256, pdq=pdq)
    entry = NewEntry(
        signals, _category(category), series, victim_identified, source, first_seen, note
    )
    with open_bank_first(bank) as b:
        result = b.entries.add_many([entry], action="entry.add", on_duplicate="error")
        keep_index_current(b)
    if result.added:
        console.print(f"added entry {result.added[0]}")
        return
    console.print(f"merged the new hashes into entry {result.matched[0]}")
    _print_existing(result)


@app.command("add-files", rich_help_panel=FILL)
def add_files(
    bank: BankArg,
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Files or folders to hash and add.")
    ],
    category: CategoryOpt = "uncategorised",
    series: SeriesOpt = None,
    source: SourceOpt = None,
    victim_identified: VictimOpt = False,
    known_good: Annotated[
        str | None,
        typer.Option(metavar="SET", help="Add to this known-good set instead of as known entries."),
    ] = None,
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
) -> None:
    """Hash files (folders recursively) and add them to the bank.

    Images also bank the PDQ of views of them (crops, the picture without a strip), so that
    cropped and captioned copies match (docs/hashing.md, "Views"). The bank's own files (the
    bank, its -wal, -shm and -journal files, its saved index) are left out. Exit 4 when a path
    or the bank is not there (before hashing anything); 6 when some files could not be read."""
    from hashwarden.bank import NewEntry
    from hashwarden.signals import Signal
    from hashwarden.signals.views import BANK_VIEWS

    cat = _category(category)
    mode = check_pdq_mode(pdq_mode)
    files = check_paths(paths)
    entries: list[NewEntry] = []
    views: list[tuple[str, str, dict[str, str]]] = []
    failed = 0
    with open_bank_first(bank) as b:
        own = _own_files(b)
        for path, hashes, error in hashed_files(
            files,
            "hashing",
            workers=workers,
            pdq_mode=mode,
            leave_out=own,
            views=() if known_good else BANK_VIEWS,
        ):
            if hashes is None:
                err_console.print(f"skipped {path}: {error}", markup=False)
                failed += 1
                continue
            views.append((hashes.sha256, hashes.md5, hashes.pdq_views))
            signals = [Signal(k, v) for k, v in hashes.signals().items()]
            entries.append(
                NewEntry(
                    signals, cat, series, victim_identified, source, extra={"file_name": path.name}
                )
            )
        if own.count:
            err_console.print(f"left out {own.count} of the bank's own files")
        if known_good:
            count = b.known_good.add(
                known_good, (s for e in entries for s in e.signals), source=source
            )
            console.print(
                f"added {count} signals of {len(entries)} files to known-good set {known_good}",
                markup=False,
            )
        else:
            with b.db.transaction():  # the entries and their views, all or nothing
                result = b.entries.add_many(entries, action="entries.add_files")
                owners, _ = b.views.for_files(views)
                with_views = b.views.add(owners, replace=False)
            console.print(_added_message("added", result))
            if with_views:
                console.print(f"banked views of {len(with_views)} images")
        keep_index_current(b)
    if failed:
        raise typer.Exit(EXIT_ERRORS)


@app.command("add-views", rich_help_panel=FILL)
def add_views(
    bank: BankArg,
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", help="Files or folders of images already banked."),
    ],
    pdq_mode: PdqModeOpt = "fast",
    workers: WorkersOpt = None,
) -> None:
    """Bank the views of entries whose files you still hold (entries added before views
    existed, or by hashes): each file is hashed and given to the entry holding its SHA-256
    or MD5; files no entry holds are counted and left alone, and nothing else of an entry
    changes. Exit 4 when a path or the bank is not there; 6 when some files could not be
    read."""
    from hashwarden.signals.views import BANK_VIEWS

    mode = check_pdq_mode(pdq_mode)
    files = check_paths(paths)
    views: list[tuple[str, str, dict[str, str]]] = []
    failed = without = 0
    with open_bank_first(bank) as b:
        for path, hashes, error in hashed_files(
            files,
            "hashing",
            workers=workers,
            pdq_mode=mode,
            leave_out=_own_files(b),
            extra_kinds=(),
            views=BANK_VIEWS,
        ):
            if hashes is None:
                err_console.print(f"skipped {path}: {error}", markup=False)
                failed += 1
            elif not hashes.pdq_views:
                without += 1  # not an image, or featureless: no view to bank
            else:
                views.append((hashes.sha256, hashes.md5, hashes.pdq_views))
        owners, unmatched = b.views.for_files(views)
        written = b.views.add(owners)
        keep_index_current(b)
    console.print(
        f"banked views of {len(written)} entries"
        f" ({len(owners) - len(written)} had these views already);"
        f" {unmatched} files not in the bank; {without} files without views"
        " (not images, or featureless)"
    )
    if failed:
        raise typer.Exit(EXIT_ERRORS)


class _OwnFiles:
    """Says whether a path is one of the bank's own files, and counts those it left out."""

    def __init__(self, files: set[Path], folder: Path | None) -> None:
        self.files = files
        self.folder = folder
        self.count = 0

    def __call__(self, path: Path) -> bool:
        try:
            real = path.resolve()
        except OSError:
            return False
        own = real in self.files or (self.folder is not None and self.folder in real.parents)
        self.count += own
        return own


def _own_files(b: Bank) -> _OwnFiles:
    """The bank file, its SQLite side files and its saved index folder (none for PostgreSQL)."""
    from hashwarden.index.saved import index_folder

    folder = index_folder(b)
    if folder is None:
        return _OwnFiles(set(), None)
    base = Path(b.path).resolve()
    side = {base.with_name(base.name + suffix) for suffix in ("-wal", "-shm", "-journal")}
    return _OwnFiles({base, *side}, folder.resolve())


@app.command(rich_help_panel=FILL)
def remove(
    bank: BankArg,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why (kept in the audit log).")
    ] = None,
) -> None:
    """Remove the entry holding a hash value (given by exactly one of the hash options); the
    removal is audited and travels in the next bundle."""
    given = {"md5": md5, "sha1": sha1, "sha256": sha256, "pdq": pdq}
    if sum(bool(value) for value in given.values()) != 1:
        raise UsageError("give exactly one of --md5, --sha1, --sha256, --pdq")
    (signal,) = signals_given(**given)
    with open_bank_first(bank) as b:
        removed = b.entries.remove_by_signal(signal, reason=reason)
        keep_index_current(b)
    kinds = ", ".join(f"{s.kind} {s.value}" for s in removed.signals)
    console.print(f"removed entry {removed.id} ({kinds})", markup=False)


FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="plain, csv, vics, icse, hma; nsrl (import only); any case. Default: recognised "
        "from the file's content or suffix, else plain.",
        show_default=False,
    ),
]


class _Rewound(io.RawIOBase):
    """A stream with the bytes already read from its start (to recognise its format) put back."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _open_input(file: Path) -> tuple[BinaryIO, bytes]:
    """The stream to import ('-': standard input) and its first bytes, left in the stream."""
    from hashwarden.exchange.detect import SNIFF_BYTES

    if str(file) == "-":
        head = sys.stdin.buffer.read(SNIFF_BYTES)
        return io.BufferedReader(_Rewound(head, sys.stdin.buffer)), head
    stream = file.open("rb")
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    return stream, head


@app.command("import", rich_help_panel=FILL)
def import_list(
    bank: BankArg,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The file to import ('-' for standard input).")
    ],
    format_name: FormatOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(metavar="KIND", help="Kind of every bare hash (needed for 64 digits)."),
    ] = None,
    category: Annotated[
        str,
        typer.Option(
            "--category", "-c", metavar="CATEGORY", help="Category of records that carry none."
        ),
    ] = "uncategorised",
    category_scheme: Annotated[
        str,
        typer.Option(
            metavar="SCHEME", help="How the file's category numbers read: vic, vic-legacy or uk."
        ),
    ] = "vic",
    map_category: Annotated[
        list[str] | None,
        typer.Option(
            "--map-category", metavar="FILE=OURS", help="FILE_CATEGORY=OUR_CATEGORY, repeatable."
        ),
    ] = None,
    series: SeriesOpt = None,
    source: SourceOpt = None,
    known_good: Annotated[
        str | None, typer.Option(metavar="SET", help="Import into this known-good set instead.")
    ] = None,
) -> None:
    """Import a hash list of any supported format; all or nothing."""
    from hashwarden.exchange import ImportOptions, check_category_map, get_format
    from hashwarden.exchange.base import CATEGORY_SCHEMES
    from hashwarden.exchange.detect import detect_format
    from hashwarden.signals import default_registry

    if category_scheme.lower() not in CATEGORY_SCHEMES:
        raise UsageError(f"--category-scheme must be one of {', '.join(CATEGORY_SCHEMES)}")
    name = "stdin" if str(file) == "-" else str(file)
    with open_bank_first(bank) as b:
        stream, head = _open_input(file)
        with stream:
            chosen = choose_format(
                format_name, IMPORT_FORMATS, detected=detect_format(name, head), default="plain"
            )
            if chosen == "nsrl":
                _import_nsrl(b, file, known_good or "nsrl", source)
                return
            fmt = get_format(chosen)
            options = ImportOptions(
                kind=default_registry().get(kind).name if kind else None,
                category_scheme=category_scheme.lower(),
                category_map=check_category_map(map_category or []),
                category=_category(category),
                series=series,
                source=source,
            )
            entries = fmt.read(stream, options, name)
            if known_good:
                signals = (signal for entry in entries for signal in entry.signals)
                count = b.known_good.add(known_good, signals, source=source)
                keep_index_current(b)
                console.print(
                    f"imported {count} hashes into known-good set {known_good}", markup=False
                )
                return
            result = b.entries.add_many(
                entries,
                action="entries.import",
                detail={"format": fmt.name, "file": Path(name).name},
            )
            keep_index_current(b)
    console.print(_added_message("imported", result))


def _added_message(verb: str, result: AddResult) -> str:
    """What an addition did: new entries, and for records already banked what became of the
    entries' categories and whether they gained hashes."""
    count = len(result.added)
    message = f"{verb} {count} new {'entry' if count == 1 else 'entries'}"
    if result.duplicates:
        message += (
            f"; {result.duplicates} already in the bank (category: {result.category_updated}"
            f" updated, {result.category_kept} kept, {result.category_conflicting} conflicting)"
        )
    if result.merged:
        message += f"; {len(result.merged)} existing entries gained hashes or fields"
    return message


def _print_existing(result: AddResult) -> None:
    if result.category_updated:
        console.print("its category was updated")
    elif result.category_conflicting:
        console.print("its category differs from the one given and was kept")


def _import_nsrl(b: Bank, file: Path, set_name: str, source: str | None) -> None:
    from hashwarden.exchange import read_nsrl

    if not file.is_file():
        raise NotFoundError(f"no NSRL database at {file}")
    with progress_bar() as bar:
        task = bar.add_task("reading NSRL", total=None)
        signals = read_nsrl(file, on_rows=lambda n: bar.advance(task, n))
        count = b.known_good.add(set_name, signals, source=source or "NIST NSRL")
        keep_index_current(b)
    console.print(f"imported {count} hashes into known-good set {set_name}", markup=False)


@app.command(rich_help_panel=INSPECT)
def stats(bank: BankArg, as_json: JsonOpt = False) -> None:
    """Summarise the bank: entries, signals by kind, categories, known-good sets."""
    with open_bank_first(bank, readonly=True) as b:
        s = b.stats()
    if as_json:
        console.print_json(json.dumps(s.__dict__))
        return
    console.print(f"bank {bank}  id {s.bank_id}", markup=False)
    console.print(f"entries: {s.entries}   audit events: {s.audit_events}")
    for kind, n in s.signals_by_kind.items():
        console.print(f"  {kind:>8}: {n}")
    console.print("by category:")
    for cat, n in s.entries_by_category.items():
        console.print(f"  {cat:>14}: {n}")
    if s.known_good_sets:
        console.print("known-good sets:")
        for name, n in s.known_good_sets.items():
            console.print(f"  {name}: {n}", markup=False)
    console.print(f"fingerprint: {s.fingerprint}")


@app.command("list", rich_help_panel=INSPECT)
def list_entries(
    bank: BankArg,
    kind: Annotated[
        str | None, typer.Option(metavar="KIND", help="Only entries holding this kind.")
    ] = None,
    series: Annotated[str | None, typer.Option(metavar="NAME", help="Only this series.")] = None,
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            "-c",
            metavar="CATEGORY",
            help="Only this category (a name, Project VIC number or UK letter).",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(metavar="ORG", help="Only entries this organisation added.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, metavar="N", help="Show at most N entries (0: all).")
    ] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Search the bank's entries by kind, series, category and source, in id order."""
    from hashwarden.signals import default_registry

    wanted_kind = default_registry().get(kind).name if kind else None
    wanted_category = _category(category) if category else None
    shown = 0
    more = False
    with open_bank_first(bank, readonly=True) as b:
        for entry in b.entries.all():
            if (
                (wanted_kind and entry.signal(wanted_kind) is None)
                or (series is not None and entry.series != series)
                or (wanted_category and entry.category != wanted_category)
                or (source is not None and entry.source != source)
            ):
                continue
            if limit and shown == limit:
                more = True
                break
            shown += 1
            if as_json:
                print(json.dumps(_entry_json(entry), ensure_ascii=False))
            else:
                console.print(_entry_line(entry), markup=False)
    if more:
        err_console.print(f"showing the first {limit} entries; --limit 0 shows all")
    elif not as_json:
        err_console.print(f"{shown} {'entry' if shown == 1 else 'entries'}")


def _entry_line(entry: Entry) -> str:
    fields = [f"entry {entry.id}", entry.category]
    if entry.series:
        fields.append(f"series {entry.series}")
    if entry.source:
        fields.append(f"source {entry.source}")
    fields.append(" ".join(f"{s.kind}={s.value}" for s in entry.signals if s.kind != "vpdq"))
    if entry.signal("vpdq"):
        fields.append("vpdq=(video)")
    return "  ".join(fields)


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "signals": {s.kind: s.value for s in entry.signals},
        "category": entry.category,
        "series": entry.series,
        "victim_identified": entry.victim_identified,
        "source": entry.source,
        "first_seen": entry.first_seen,
        "added": entry.added,
        "version": entry.version,
        "note": entry.note,
        "extra": entry.extra,
    }


@app.command(rich_help_panel=INSPECT)
def show(
    bank: BankArg,
    entry: Annotated[
        int | None,
        typer.Argument(metavar="[ENTRY]", help="The entry's id (or give one of the hashes)."),
    ] = None,
    md5: Md5Opt = None,
    sha1: Sha1Opt = None,
    sha256: Sha256Opt = None,
    pdq: PdqOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One entry: its signals and fields, provenance, votes and audit history.

    Give the entry's id, or exactly one hash it holds. Exit 4 when there is no such entry."""
    given = {"md5": md5, "sha1": sha1, "sha256": sha256, "pdq": pdq}
    if (entry is None) == (sum(bool(v) for v in given.values()) != 1) or (
        entry is not None and any(given.values())
    ):
        raise UsageError("give the entry's id, or exactly one of --md5, --sha1, --sha256, --pdq")
    with open_bank_first(bank, readonly=True) as b:
        if entry is None:
            (signal,) = signals_given(**given)
            entry = b.entries.lookup(signal.kind, [signal.value]).get(signal.value)
            if entry is None:
                raise NotFoundError(f"{signal.kind} {signal.value} is not in the bank")
        found = b.entries.get(entry)
        provenance = b.provenance.claims(entry)
        history = b.audit.history(entry)
    votes: dict[str, dict[str, Any]] = {}
    for event in history:
        if event.action == "entry.vote":
            detail = event.detail
            votes[detail["org"]] = {"vote": detail["vote"], "reason": detail.get("reason")}
            votes[detail["org"]]["at"] = event.at
    if as_json:
        record = {
            "entry": _entry_json(found),
            "provenance": [
                {"org": o, "category": c, "list": lst, "at": at} for o, c, lst, at in provenance
            ],
            "votes": [{"org": org, **v} for org, v in votes.items()],
            "history": [
                {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action} for e in history
            ],
        }
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return
    console.print(_entry_line(found).split("  ")[0] + f"  {found.category}", markup=False)
    rows = [
        ("series", found.series),
        ("victim identified", "yes" if found.victim_identified else "no"),
        ("source", found.source),
        ("first seen", found.first_seen),
        ("added", found.added),
        ("note", found.note),
        ("extra", json.dumps(found.extra, ensure_ascii=False) if found.extra else None),
    ]
    for label, value in rows:
        if value is not None:
            console.print(f"  {label}: {value}", markup=False)
    console.print("signals:")
    for s in found.signals:
        console.print(f"  {s.kind:>8}  {s.value}", markup=False)
    if provenance:
        console.print("provenance:")
        for org, cat, list_name, at in provenance:
            console.print(f"  {org}  {cat}  {list_name or '-'}  {at}", markup=False)
    if votes:
        console.print("votes:")
        for org, v in votes.items():
            why = f"  ({v['reason']})" if v["reason"] else ""
            console.print(f"  {org}  {v['vote']}  {v['at']}{why}", markup=False)
    console.print("history:")
    for e in history:
        console.print(f"  #{e.seq}  {e.at}  {e.actor}  {e.action}", markup=False)


@app.command(rich_help_panel=INSPECT)
def verify(bank: BankArg) -> None:
    """Check the audit log's hash chain and that the entries, known-good sets, keys, trust,
    named banks, action rules and report decisions match it (exit 5 on tampering)."""
    with open_bank_first(bank, readonly=True) as b:
        report = b.verify()
    if report.ok:
        console.print(
            f"ok: {report.events} audit events, {report.entries} entries,"
            f" {report.guarded} guarded tables, chain intact"
        )
        return
    for problem in report.problems:
        err_console.print(f"tampering: {problem}", markup=False)
    raise typer.Exit(EXIT_INTEGRITY)


@app.command(rich_help_panel=INSPECT)
def conflicts(bank: BankArg, as_json: JsonOpt = False) -> None:
    """Entries whose contributing organisations disagree on the category."""
    with open_bank_first(bank, readonly=True) as b:
        found = b.provenance.conflicts()
        current = b.entries.by_id(found)
    if as_json:
        print(
            json.dumps(
                {
                    str(k): {"consensus": current[k].category, "organisations": v}
                    for k, v in found.items()
                }
            )
        )
        return
    for entry_id, views in found.items():
        opinions = ", ".join(f"{org}: {cat}" for org, cat in views.items())
        console.print(
            f"entry {entry_id}  consensus {current[entry_id].category}  ({opinions})", markup=False
        )
    console.print(f"{len(found)} entries with disagreeing categories")


@app.command(rich_help_panel=FILL)
def vote(
    bank: BankArg,
    entry: Annotated[int, typer.Argument(metavar="ENTRY", help="The entry's id.")],
    org: Annotated[str, typer.Option("--org", metavar="ORG", help="The organisation voting.")],
    dispute: Annotated[
        bool, typer.Option("--dispute/--confirm", help="Dispute or confirm the entry.")
    ] = False,
    reason: Annotated[str | None, typer.Option(metavar="TEXT", help="Why (for a dispute).")] = None,
) -> None:
    """Record an organisation's confirmation or dispute of an entry."""
    with open_bank_first(bank) as b:
        category = b.provenance.vote(entry, org, "dispute" if dispute else "confirm", reason=reason)
    console.print(f"recorded; entry {entry} is now {category}")


OutOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="Write here ('-' or none: standard output).", show_default=False
    ),
]


@app.command("export", rich_help_panel=SHARE)
def export_list(
    bank: BankArg,
    format_name: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="plain, csv, vics, icse, hma or bloom; any case. Default: from --out's suffix "
            "(.csv, .json for vics, .txt, .bloom), else plain.",
            show_default=False,
        ),
    ] = None,
    kind: KindOpt = None,
    out: OutOpt = None,
    include_file_names: Annotated[
        bool,
        typer.Option(help="Also send original file names and paths (kept home by default)."),
    ] = False,
    include_notes: Annotated[
        bool, typer.Option(help="Also send the entries' free-text notes (kept home by default).")
    ] = False,
    error_rate: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            help="bloom: the chance a hash not in the bank is reported as a candidate "
            "(default 0.001).",
            show_default=False,
        ),
    ] = None,
    bloom_key: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="bloom: key the filter with this secret (16+ bytes): it reveals nothing "
            "without it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the bank's entries in a supported format. Original file names and notes stay
    in the bank unless asked for."""
    from hashwarden.exchange import Format, export_entries, get_format
    from hashwarden.exchange.base import shareable
    from hashwarden.exchange.bloom import DEFAULT_ERROR_RATE, BloomFormat
    from hashwarden.exchange.detect import format_for_suffix
    from hashwarden.signals import default_registry

    suffix_format = format_for_suffix(out.name) if out is not None else None
    if out is not None and out.suffix.lower() == ".bloom":
        suffix_format = "bloom"
    chosen = choose_format(
        format_name,
        EXPORT_FORMATS,
        detected=suffix_format if suffix_format in EXPORT_FORMATS else None,
        default="plain",
    )
    if chosen != "bloom" and (error_rate is not None or bloom_key is not None):
        raise UsageError("--error-rate and --bloom-key are options of --format bloom")
    fmt: Format = (
        BloomFormat(
            DEFAULT_ERROR_RATE if error_rate is None else error_rate,
            read_bloom_key(bloom_key) if bloom_key is not None else None,
        )
        if chosen == "bloom"
        else get_format(chosen)
    )
    with open_bank_first(bank, readonly=True) as b:
        kinds = [default_registry().get(kind).name] if kind else sorted(b.stats().signals_by_kind)
        entries = (
            shareable(e, file_names=include_file_names, notes=include_notes)
            for e in b.entries.all()
            if any(s.kind in kinds for s in e.signals)
        )
        with output(out) as stream:
            exported = export_entries(fmt, entries, stream, kinds)
    to_file = out is not None and str(out) != "-"
    message = exported.message(where(out) if to_file else None)
    if message:
        err_console.print(message, markup=False)
