"""The PDQ of views of an entry's picture (crops, the picture without a strip: see
hashwarden.signals.views), banked beside entries added from files so that cropped and
captioned copies still match.

Views are derived data: they are not signals (not in the entry's digest, not exported or
shared), each banked only once a file was hashed. They change matching, so `entry_views` is a
guarded table (bank/guarded.py): every write is vouched for by an audit event, and a row put in
behind the log's back shows in `bank verify`. Giving an entry views moves its version to the
event's sequence, so the saved indexes catch up with them as with any changed entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from hashwarden._sql import Database
from hashwarden.bank._audit import SqlAudit
from hashwarden.bank._rows import chunks
from hashwarden.errors import InvalidSignalError, NotFoundError

__all__ = ["VIEWS_MIGRATION", "SqlViews"]

#: The migration that made `entry_views` (bank/schema.py).
VIEWS_MIGRATION = "1500-entry-views"

_HEX = set("0123456789abcdef")
#: A view's name as signals/views.py spells them ("c3", "L4", "-B12", "c3-B12"); checked here
#: by shape only, so that opening a bank never imports numpy.
_NAME = re.compile(r"(?:[cLRTB]\d{1,2})?(?:-[BT]\d{1,2})?")


def _check(entry_id: int, name: str, value: str) -> None:
    if not name or not _NAME.fullmatch(name):
        raise InvalidSignalError(f"entry {entry_id}: not a view name: {name!r}")
    if len(value) != 64 or not set(value) <= _HEX:
        raise InvalidSignalError(f"entry {entry_id}: view {name} is not a PDQ hash: {value!r}")


class SqlViews:
    """The view hashes of a bank's entries (implements `ViewStore`)."""

    def __init__(self, db: Database, audit: SqlAudit, *, present: bool = True) -> None:
        self._db = db
        self._audit = audit
        #: False for a bank opened read-only before its views migration: it has none.
        self._present = present

    def add(
        self,
        views: Mapping[int, Mapping[str, str]],
        *,
        replace: bool = True,
        actor: str = "cli",
    ) -> list[int]:
        """Bank these views (view name -> PDQ hex) of these entries, in one transaction with
        its audit event. With `replace` an entry's views are replaced by these; without, an
        entry that has views keeps them. Returns the entries whose views were written;
        NotFoundError (nothing written) when an entry is not in the bank."""
        wanted = {eid: dict(v) for eid, v in views.items() if v}
        for eid, named in wanted.items():
            for name, value in named.items():
                _check(eid, name, value)
        if not wanted:
            return []
        with self._db.transaction():
            having = self.of(wanted)
            missing = sorted(set(wanted) - self._existing(wanted))
            if missing:
                raise NotFoundError(f"no entry {missing[0]} in the bank: no views were added")
            version = self._audit.next_seq()
            written: list[int] = []
            for eid in sorted(wanted):
                if eid in having and (not replace or having[eid] == wanted[eid]):
                    continue
                with self._audit.tracked("entry_views", "entry_id = ?", (eid,)):
                    self._db.execute("DELETE FROM entry_views WHERE entry_id = ?", (eid,))
                    self._db.executemany(
                        "INSERT INTO entry_views(entry_id, view, value) VALUES (?, ?, ?)",
                        [(eid, name, value) for name, value in sorted(wanted[eid].items())],
                    )
                self._db.execute("UPDATE entries SET version = ? WHERE id = ?", (version, eid))
                written.append(eid)
            if written:
                detail: dict[str, object] = {"count": len(written)}
                if len(written) <= 20:
                    detail["ids"] = written
                else:
                    detail["id_range"] = [written[0], written[-1]]
                self._audit.record(actor, "entries.views", detail)
        return written

    def for_files(
        self, files: Iterable[tuple[str, str, Mapping[str, str]]]
    ) -> tuple[dict[int, dict[str, str]], int]:
        """The entries that files' views belong to, found by the files' SHA-256 or MD5:
        ({entry: views}, files with views that no entry holds). `files`: (sha256, md5, views)."""
        listed = [(sha256, md5, dict(views)) for sha256, md5, views in files if views]
        owners = self._owners("sha256", [f[0] for f in listed])
        by_md5 = self._owners("md5", [f[1] for f in listed if f[0] not in owners])
        found: dict[int, dict[str, str]] = {}
        unmatched = 0
        for sha256, md5, views in listed:
            owner = owners.get(sha256, by_md5.get(md5))
            if owner is None:
                unmatched += 1
            else:
                found[owner] = views
        return found, unmatched

    def _owners(self, kind: str, values: list[str]) -> dict[str, int]:
        owners: dict[str, int] = {}
        for chunk in chunks(sorted(set(values))):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT value, entry_id FROM signals WHERE kind = ? AND value IN ({marks})",
                [kind, *chunk],
            )
            owners.update((str(v), int(e)) for v, e in rows.fetchall())
        return owners

    def _existing(self, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(sorted(set(ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM entries WHERE id IN ({marks})", chunk)
            found.update(int(r[0]) for r in rows.fetchall())
        return found

    def of(self, ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """The views of these entries (those that have some), by entry id."""
        found: dict[int, dict[str, str]] = {}
        if not self._present:
            return found
        for chunk in chunks(sorted(set(ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT entry_id, view, value FROM entry_views WHERE entry_id IN ({marks})",
                chunk,
            )
            for eid, name, value in rows.fetchall():
                found.setdefault(int(eid), {})[str(name)] = str(value)
        return found

    def all(self) -> Iterator[tuple[int, str, str]]:
        """(entry id, view, value) of every banked view, streamed in entry order."""
        if not self._present:
            return
        cursor = self._db.execute(
            "SELECT entry_id, view, value FROM entry_views ORDER BY entry_id, view"
        )
        while rows := cursor.fetchmany(10_000):
            for eid, name, value in rows:
                yield int(eid), str(name), str(value)

    def count(self) -> tuple[int, int]:
        """(entries with views, view hashes banked)."""
        if not self._present:
            return 0, 0
        row = self._db.execute(
            "SELECT COUNT(DISTINCT entry_id), COUNT(*) FROM entry_views"
        ).fetchone()
        return int(row[0]), int(row[1])
