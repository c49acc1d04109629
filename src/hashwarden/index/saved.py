"""A bank's indexes in memory, and their copy saved beside a SQLite bank, so `match`, `scan`
and the service start in a fraction of a second however large the bank.

`BANK.index/` holds two array files (`hashwarden._arrayfile`), each replaced whole:

- `entries`: the PDQ index and the exact-kind tables of the bank's entries, and the PDQ index
  of the views of entries banked from files (`ViewIndex`);
- `known_good`: the exact-kind tables of the known-good sets (rewritten only when a set
  changes: with a whole NSRL release it is the larger file).

Each names the bank, the audit sequence it reflects and that audit event's hash. A file of
another bank, of another format version, damaged, or whose event hash is not the bank's (a bank
restored from an older copy) is never used: the indexes are rebuilt from the bank and saved
again. One that is behind the bank is caught up from the audit log, and saved again once more
than a few changes were pending (`SAVE_AFTER`). Commands that change a bank call
`keep_index_current` when they are done, so a bank is ready to match straight after an import.
PostgreSQL banks are indexed in memory only.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hashwarden._arrayfile import ArrayFile, Column, read_meta, write_array_file
from hashwarden.bank.base import Entry
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import DataError, HashwardenError
from hashwarden.index.exact import ExactIndex, KnownGoodIndex, entries_index
from hashwarden.index.pdq import PdqIndex
from hashwarden.signals.views import BANK_VIEWS, FULL

__all__ = [
    "FORMAT",
    "KNOWN_GOOD_IN_MEMORY",
    "SAVE_AFTER",
    "VERSION",
    "BankIndexes",
    "Changes",
    "PartState",
    "ViewIndex",
    "index_folder",
    "keep_index_current",
    "save_index",
    "saved_state",
]

log = logging.getLogger(__name__)

FORMAT = "hashwarden-bank-index"
#: 2: the entries part holds the views' index too; 3: the known-good part holds PDQ hashes
#: too, so no look-up asks the bank for them (an older file is rebuilt).
VERSION = 3
#: In the order they are saved: the entries file vouches for the known-good file's state.
PARTS = ("known_good", "entries")
#: Changes pending beyond which a caught-up index is saved again: catching up costs tens of
#: microseconds a change at every start, saving about a second at a million hashes, once.
SAVE_AFTER = 1000
#: Audit events (statistics, keys, votes...) after the saved entries' sequence beyond which
#: they are saved again even though no entry changed, so a start reads few events.
EVENTS_BEHIND = 20_000
#: Known-good values of one kind read into memory when the tables are built from the bank; a
#: larger kind (a whole NSRL release) is looked up in the bank per file instead, until
#: `hashwarden index build` saves its table in full.
KNOWN_GOOD_IN_MEMORY = 1_000_000


def index_folder(bank: BankStore) -> Path | None:
    """Where a bank's indexes are saved: beside a SQLite file; PostgreSQL banks have none."""
    if bank.location.startswith(("postgresql://", "postgres://")):
        return None
    return bank.path.with_name(bank.path.name + ".index")


def _legacy_folder(bank: BankStore) -> Path:
    """Where hashwarden 0.1 saved its index (a folder of .npy files), removed on saving."""
    return bank.path.with_name(bank.path.name + ".pdqidx")


@dataclass
class Changes:
    """What a catch-up applied: entries removed, and entries added or changed."""

    removed: list[int] = field(default_factory=list)
    changed: list[Entry] = field(default_factory=list)
    known_good: bool = False

    def __len__(self) -> int:
        return len(self.removed) + len(self.changed) + self.known_good


def _event_hash(bank: BankStore, seq: int) -> str | None:
    """The hash of the bank's audit event `seq` (None when there is none)."""
    event = next(iter(bank.audit.events(after=seq - 1)), None)
    return event.hash if event is not None and event.seq == seq else None


def _check_meta(bank: BankStore, meta: dict[str, Any], where: Path, head: int) -> int:
    """The audit sequence a saved part reflects; DataError when it is not of this bank's
    history (another bank, a sequence the bank has not reached, a diverged log)."""
    seq = meta.get("seq")
    if meta.get("bank_id") != bank.bank_id:
        raise DataError(f"{where} was saved for another bank")
    if not isinstance(seq, int) or not 0 <= seq <= head:
        raise DataError(f"{where} is ahead of the bank (at {seq}, the bank at {head})")
    if seq and _event_hash(bank, seq) != meta.get("head"):
        raise DataError(f"{where} does not match the bank's audit log at {seq} (bank restored?)")
    return seq


def _load_part(bank: BankStore, name: str, head: int) -> tuple[ArrayFile, int]:
    folder = index_folder(bank)
    if folder is None:
        raise DataError("PostgreSQL banks keep no saved index")
    path = folder / name
    if not path.is_file():
        raise DataError(f"no saved index at {path}")
    file = ArrayFile(path, FORMAT, VERSION)
    if file.meta.get("part") != name:
        raise DataError(f"{path} holds the part {file.meta.get('part')!r}, not {name!r}")
    return file, _check_meta(bank, file.meta, path, head)


@dataclass(frozen=True)
class PartState:
    """What `saved_state` says of one saved file."""

    #: The audit sequence it reflects; None when it is missing or not usable.
    seq: int | None
    #: What it holds, or why it cannot be used.
    text: str
    #: Changes made to the bank since, that a start applies: entries added, changed or
    #: removed (the entries part); sets changed (the known-good part).
    changes: int = 0


def saved_state(bank: BankStore) -> dict[str, PartState]:
    """Each saved part's state, read from the headers and the audit log without loading any
    array (for `index status`)."""
    folder = index_folder(bank)
    head = bank.audit.head()[0]
    state: dict[str, PartState] = {}
    for name in PARTS:
        if folder is None:
            state[name] = PartState(None, "PostgreSQL banks keep no saved index")
            continue
        try:
            meta = read_meta(folder / name, FORMAT, VERSION)
            seq = _check_meta(bank, meta, folder / name, head)
        except DataError as exc:
            state[name] = PartState(None, str(exc))
            continue
        events = list(bank.audit.events(after=seq))
        if name == "entries":
            changes = sum(1 for _ in bank.entries.all(since_version=seq)) + sum(
                1 if e.action == "entry.remove" else len(e.detail.get("removed_signals", ()))
                for e in events
            )
        else:
            changes = sum(e.action.startswith("known_good") for e in events)
        state[name] = PartState(seq, str(meta.get("summary", "")), changes)
    return state


class ViewIndex:
    """The PDQ of the views of entries banked from files, and of those entries' own PDQ (the
    view "full"), in one PdqIndex whose ids say the entry and the view: entry * 32 + the view's
    place in `NAMES`. Entries without views are not in it."""

    NAMES: ClassVar[tuple[str, ...]] = (FULL, *BANK_VIEWS)
    _CODE: ClassVar[dict[str, int]] = {name: code for code, name in enumerate(NAMES)}
    _SPAN: ClassVar[int] = 32

    def __init__(self, pdq: PdqIndex) -> None:
        self.pdq = pdq

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, str, str]]) -> ViewIndex:
        """From (entry, view, value) rows; views of names not in `NAMES` are left out."""
        ids, hexes = cls._encode(rows)
        return cls(PdqIndex(ids, hexes))

    @classmethod
    def _encode(cls, rows: Iterable[tuple[int, str, str]]) -> tuple[list[int], list[str]]:
        ids: list[int] = []
        hexes: list[str] = []
        for entry_id, name, value in rows:
            code = cls._CODE.get(name)
            if code is not None:
                ids.append(entry_id * cls._SPAN + code)
                hexes.append(value)
        return ids, hexes

    def __len__(self) -> int:
        return len(self.pdq)

    def add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        ids, hexes = self._encode(rows)
        self.pdq.add(ids, hexes)

    def remove(self, entries: Iterable[int]) -> None:
        self.pdq.remove(e * self._SPAN + code for e in entries for code in range(len(self.NAMES)))

    def query_many(
        self, hexes: list[str], threshold: int, *, complete: int | None = None
    ) -> list[list[tuple[int, str, int]]]:
        """(entry, banked view, distance) within `threshold` of each hash, nearest first."""
        found = self.pdq.query_many(hexes, threshold, complete=complete)
        return [
            [(key // self._SPAN, self.NAMES[key % self._SPAN], d) for key, d in hits]
            for hits in found
        ]


def _view_rows(bank: BankStore, entries: dict[int, str]) -> list[tuple[int, str, str]]:
    """(entry, view, value) of the views of these entries (id -> their PDQ), with each one's
    own PDQ as the view "full"; entries without views give none."""
    views = bank.views.of(entries)
    return [
        (eid, name, value)
        for eid, named in views.items()
        for name, value in [(FULL, entries[eid]), *named.items()]
    ]


def _build_entries(bank: BankStore) -> tuple[PdqIndex, ExactIndex, ViewIndex]:
    """The entries' PDQ index, exact tables and views' index, from the bank (the slow path:
    every signal)."""
    pairs = list(bank.entries.signals("pdq"))
    pdq = PdqIndex([p[0] for p in pairs], [p[1] for p in pairs])
    own = dict(pairs)
    rows = [(e, n, v) for e, n, v in bank.views.all() if e in own]
    rows += [(e, FULL, own[e]) for e in sorted({r[0] for r in rows})]
    return pdq, entries_index(bank), ViewIndex.from_rows(rows)


class BankIndexes:
    """A bank's indexes in memory: the PDQ index, exact tables and views' index of its entries
    at audit sequence `seq`, the known-good tables at `known_good_seq`."""

    def __init__(
        self,
        pdq: PdqIndex,
        exact: ExactIndex,
        seq: int,
        known_good: KnownGoodIndex,
        known_good_seq: int,
        *,
        known_good_limit: int | None,
        views: ViewIndex | None = None,
    ) -> None:
        self.pdq, self.exact, self.seq = pdq, exact, seq
        self.views = views if views is not None else ViewIndex(PdqIndex())
        self.known_good, self.known_good_seq = known_good, known_good_seq
        #: The known-good tables' limit per kind (None: complete), kept when they are rebuilt.
        self.known_good_limit = known_good_limit
        #: The sequences of the saved files these were loaded from or saved to (None: none).
        self.saved_seq: dict[str, int | None] = dict.fromkeys(PARTS)
        #: Changes applied since the entries (or known-good tables) were last saved or loaded.
        self.pending: dict[str, int] = dict.fromkeys(PARTS, 0)

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, bank: BankStore, *, save: bool = True) -> BankIndexes:
        """The bank's saved indexes caught up with it, or indexes built from it when none is
        usable. With `save`, what was built, or caught up by more than `SAVE_AFTER` changes,
        is saved for the next start (best effort: a folder that cannot be written, or another
        process saving at the time, leaves this one in memory only)."""
        head = bank.audit.head()[0]
        entries_meta: dict[str, Any] = {}
        try:
            file, seq = _load_part(bank, "entries", head)
            if file.meta.get("views") != list(ViewIndex.NAMES):
                raise DataError(f"{file.path} holds other views than this hashwarden banks")
            pdq = PdqIndex.from_file(file, "pdq/")
            exact = ExactIndex.from_file(file, file.meta.get("exact") or {}, "exact/")
            # An empty views' index is not saved (its bucket offsets alone are 8 MB).
            views = ViewIndex(
                PdqIndex.from_file(file, "views/") if file.meta.get("view_hashes") else PdqIndex()
            )
            entries_meta, saved_entries = file.meta, seq
        except DataError as exc:
            log.info("building the index of %s from the bank: %s", bank.location, exc)
            pdq, exact, views = _build_entries(bank)
            seq, saved_entries = head, None
        try:
            file, kg_seq = _load_part(bank, "known_good", head)
            known_good = KnownGoodIndex.from_file(file, file.meta.get("exact") or {})
            limit = file.meta.get("limit")
            saved_kg: int | None = kg_seq
            # The entries file, saved later, may vouch that no set changed since.
            vouched = entries_meta.get("known_good_unchanged")
            if entries_meta.get("known_good_seq") == kg_seq and isinstance(vouched, int):
                kg_seq = max(kg_seq, vouched)
        except DataError:
            limit = KNOWN_GOOD_IN_MEMORY
            known_good = KnownGoodIndex.from_bank(bank, limit=limit)
            kg_seq, saved_kg = head, None
        indexes = cls(
            pdq,
            exact,
            seq,
            known_good,
            kg_seq,
            known_good_limit=limit if isinstance(limit, int) else None,
            views=views,
        )
        indexes.saved_seq = {"entries": saved_entries, "known_good": saved_kg}
        indexes.refresh(bank)
        if save:
            indexes.save_stale(bank)
        return indexes

    # -- catching up -------------------------------------------------------------------------
    def refresh(self, bank: BankStore) -> Changes:
        """Apply the bank's changes since the indexes' sequences: added entries become
        searchable, removed ones are never returned, the known-good tables are rebuilt when a
        set changed."""
        head, _ = bank.audit.head()
        start = min(self.seq, self.known_good_seq)
        changes = Changes()
        if head <= start:
            return changes
        events = list(bank.audit.events(after=start))
        if head > self.seq:
            later = [e for e in events if e.seq > self.seq]
            changes.removed = [int(e.detail["id"]) for e in later if e.action == "entry.remove"]
            # Bundle imports record the signals of the entries they removed, not their ids.
            changes.removed += self._owners_of(
                s for e in later for signals in e.detail.get("removed_signals", ()) for s in signals
            )
            changes.changed = list(bank.entries.all(since_version=self.seq))
            self._apply(bank, changes)
            self.seq = head
            self.pending["entries"] += len(changes.removed) + len(changes.changed)
        if any(e.seq > self.known_good_seq and e.action.startswith("known_good") for e in events):
            self.known_good = KnownGoodIndex.from_bank(bank, limit=self.known_good_limit)
            self.pending["known_good"] += 1
            changes.known_good = True
        self.known_good_seq = max(self.known_good_seq, head)
        return changes

    def _owners_of(self, signals: Iterable[list[str]]) -> list[int]:
        """Entries holding these (kind, value) signals in the indexes."""
        owners: set[int] = set()
        for kind, value in signals:
            if kind == "pdq":
                owners.update(eid for eid, _ in self.pdq.query(value, 0))
            elif (table := self.exact.tables.get(kind)) is not None:
                owners.update(table.find_one(value))
        return sorted(owners)

    def _apply(self, bank: BankStore, changes: Changes) -> None:
        changed = changes.changed
        gone = changes.removed + [e.id for e in changed]
        added = [(e.id, value) for e in changed if (value := e.signal("pdq"))]
        self.pdq.remove(gone)
        self.pdq.add([a[0] for a in added], [a[1] for a in added])
        self.views.remove(gone)
        self.views.add(_view_rows(bank, dict(added)))
        self.exact.remove_labels(gone)
        for kind in self.exact.tables:
            signals = [(e.id, value) for e in changed if (value := e.signal(kind)) is not None]
            self.exact.add(kind, [s[1] for s in signals], [s[0] for s in signals])

    # -- saving ------------------------------------------------------------------------------
    def stale(self) -> list[str]:
        """The parts worth saving: never saved, or caught up since by more changes than a
        start should apply (`SAVE_AFTER`, fewer for a small bank, whose saving is cheap), or
        rebuilt from the bank (the known-good tables)."""
        size = max([len(self.pdq), *(len(t) for t in self.exact.tables.values())])
        limit = min(SAVE_AFTER, size // 100)
        parts = []
        for name in PARTS:
            saved, behind = self.saved_seq[name], self.pending[name]
            if saved is None or behind > limit or (name == "known_good" and behind):
                parts.append(name)
            elif name == "entries" and self.seq - saved > EVENTS_BEHIND:
                parts.append(name)  # no entry changed, but each start reads these events
        return parts

    def save_stale(self, bank: BankStore, *, wait: bool = False) -> list[str]:
        """Save the stale parts (see `save`); returns those saved."""
        stale = self.stale()
        return self.save(bank, stale, wait=wait) if stale else []

    def save(
        self,
        bank: BankStore,
        parts: Iterable[str] = PARTS,
        *,
        wait: bool = True,
        force: bool = False,
    ) -> list[str]:
        """Save parts beside the bank (atomically: another process sees the old file or the
        new one). Under a lock, and unless `force` never over a file of this bank at the same
        or a later sequence. Without `wait`, gives up when another process is saving. Returns
        the parts saved; a folder that cannot be written is logged and saves nothing."""
        folder = index_folder(bank)
        if folder is None:
            return []
        try:
            folder.mkdir(exist_ok=True)
            with (folder / ".lock").open("a+b") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    return []
                wanted = set(parts)
                saved = [
                    name
                    for name in PARTS
                    if name in wanted and self._save_part(bank, folder, name, force=force)
                ]
            shutil.rmtree(_legacy_folder(bank), ignore_errors=True)
        except OSError as exc:
            log.warning("the index of %s stays in memory: cannot save it (%s)", bank.location, exc)
            return []
        return saved

    def _save_part(self, bank: BankStore, folder: Path, name: str, *, force: bool) -> bool:
        seq = self.seq if name == "entries" else self.known_good_seq
        path = folder / name
        head = bank.audit.head()[0]
        try:
            theirs = _check_meta(bank, read_meta(path, FORMAT, VERSION), path, head)
        except DataError:
            theirs = None  # none, or not usable: replace it
        if theirs is not None and theirs >= seq and not force:
            self.saved_seq[name], self.pending[name] = theirs, 0
            return False  # another process saved this state or a later one
        meta: dict[str, Any] = {"part": name, "bank_id": bank.bank_id, "seq": seq}
        meta["head"] = _event_hash(bank, seq) if seq else None
        columns: dict[str, Column]
        if name == "entries":
            exact_meta, columns = self.exact.columns("exact/")
            columns |= self.pdq.columns("pdq/")
            summary = f"{len(self.pdq)} PDQ hashes"
            if len(self.views):
                columns |= self.views.pdq.columns("views/")
                summary += f", {len(self.views)} of views"
            meta |= {
                "exact": exact_meta,
                "summary": summary,
                "views": list(ViewIndex.NAMES),
                "view_hashes": len(self.views),
            }
            if self.saved_seq["known_good"] is not None and not self.pending["known_good"]:
                # No set changed between the known-good file's sequence and this one.
                meta |= {
                    "known_good_seq": self.saved_seq["known_good"],
                    "known_good_unchanged": self.known_good_seq,
                }
        else:
            exact_meta, columns = self.known_good.columns()
            count = sum(len(t) for t in self.known_good.index.tables.values())
            meta |= {
                "exact": exact_meta,
                "limit": self.known_good_limit,
                "summary": f"{count} known-good values in {len(self.known_good.names)} sets",
            }
        write_array_file(path, FORMAT, VERSION, meta, columns)
        self.saved_seq[name], self.pending[name] = seq, 0
        return True


def save_index(bank: BankStore) -> tuple[Path, int]:
    """Build every index from the bank, the known-good tables in full, and save them
    (`hashwarden index build`); returns the folder and the PDQ hash count."""
    folder = index_folder(bank)
    if folder is None:
        raise DataError("only SQLite banks keep a saved index; PostgreSQL banks index in memory")
    head = bank.audit.head()[0]
    pdq, exact, views = _build_entries(bank)
    known_good = KnownGoodIndex.from_bank(bank)
    indexes = BankIndexes(pdq, exact, head, known_good, head, known_good_limit=None, views=views)
    indexes.refresh(bank)  # whatever changed while it was built
    if indexes.save(bank, PARTS, wait=True, force=True) != list(PARTS):
        raise HashwardenError(f"the index could not be saved in {folder} (see the log)")
    return folder, len(pdq)


def keep_index_current(bank: BankStore) -> None:
    """After a change to the bank: bring its saved indexes up to date when they are missing
    or far behind (see `BankIndexes.open`); nothing for a PostgreSQL bank."""
    if index_folder(bank) is None:
        return
    indexes = BankIndexes.open(bank, save=False)
    indexes.save_stale(bank, wait=True)
