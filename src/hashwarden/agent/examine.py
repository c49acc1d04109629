"""Examining one file: hash it (and the members of an archive, within `scan`'s limits), match
it against the local bank with its turned and trimmed variants, and queue an alert for each
thing that matched, in the transaction that marks the file seen.

An alert carries the host, the OS user owning the file, the path (`archive!member` for a
member), size, times, the file's hashes, the matches and the agent's and bank's versions;
never the file, never a thumbnail.
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwarden import __version__
from hashwarden._time import utc_text
from hashwarden.agent.config import AgentConfig
from hashwarden.agent.outbox import Outbox, alert_key
from hashwarden.agent.state import Seen, StateDb
from hashwarden.bank import open_bank
from hashwarden.index import BankMatcher
from hashwarden.scan import Item, ReadStats, read_items, strongest_first
from hashwarden.signals.builtin import default_registry
from hashwarden.signals.hashing import ContentHashes
from hashwarden.signals.parallel import hash_in_parallel
from hashwarden.signals.views import QUERY_VIEWS

__all__ = ["Examined", "Examiner", "bank_version"]

log = logging.getLogger("hashwarden.agent")

#: The file's hashes an alert carries.
ALERT_HASHES = ("md5", "sha1", "sha256", "pdq")


@dataclass(frozen=True)
class Examined:
    """What became of one file."""

    #: "hashed", "unchanged" (seen as it is, against this bank), "skipped" (not a regular
    #: file, empty, or gone), or "changing" (it changed while read: to be looked at again).
    outcome: str
    alerts: int = 0
    seen: Seen | None = None


def _iso(seconds: float) -> str:
    return utc_text(datetime.fromtimestamp(seconds, UTC))


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _source(item: Item) -> Path | bytes | None:
    if item.error is not None:
        return None
    return item.data if item.data is not None else item.disk_path


def bank_version(bank: Any) -> str:
    """The bank's version as the service shows it: the last bundle applied from each origin
    (the same on every agent synced from one node), or the bank's own fingerprint."""
    rows = bank.db.query("SELECT origin, last_sequence FROM bundle_state ORDER BY origin")
    if not rows:
        return str(bank.fingerprint())
    return ",".join(f"{origin}:{sequence}" for origin, sequence in rows)[:200]


class Examiner:
    """Holds the local bank (read-only) and its matcher; used by one thread."""

    def __init__(self, config: AgentConfig, db: StateDb) -> None:
        self.config = config
        self.db = db
        self.bank = open_bank(config.bank, readonly=True)
        self.matcher = BankMatcher(self.bank, threshold=config.threshold)
        self.version = self.bank.fingerprint()
        self.shown_version = bank_version(self.bank)
        self.extra_kinds = self._extra_kinds()

    def _extra_kinds(self) -> list[str]:
        """Kinds beyond the digests (the P2P identifiers) only where the bank holds some, as
        `scan` does: computing them all cost each file a sixth of its hashing."""
        return [k for k in default_registry().computed_kinds() if self.matcher.holds(k)]

    def close(self) -> None:
        self.bank.close()

    def refresh(self) -> bool:
        """Catch up with the bank's changes (a sync); True when it changed."""
        self.matcher.refresh()
        version = self.bank.fingerprint()
        if version == self.version:
            return False
        self.version = version
        self.shown_version = bank_version(self.bank)
        self.extra_kinds = self._extra_kinds()
        return True

    def examine(self, path: str, *, noticed_by: str, sweep: int) -> Examined:
        """Examine one file unless it was seen as it is against this bank version."""
        try:
            before = os.stat(path, follow_symlinks=False)
        except OSError:
            return Examined("skipped")
        if not stat.S_ISREG(before.st_mode) or before.st_size == 0:
            return Examined("skipped")
        seen = Seen.of(before)
        if self.db.unchanged(seen, self.version):
            return Examined("unchanged", seen=seen)
        detected = time.time()
        alerts = [
            self._alert(item, hashes, matches, before, noticed_by, detected)
            for item, hashes, matches in self._matches(path)
        ]
        try:
            after = os.stat(path, follow_symlinks=False)
        except OSError:
            return Examined("skipped")
        if Seen.of(after) != seen:
            return Examined("changing")
        if not alerts:
            self.db.mark_later(seen, self.version, sweep)
            return Examined("hashed", 0, seen)
        queued = 0
        with self.db.transaction() as conn:
            StateDb.mark_seen(conn, seen, self.version, sweep)
            for key, body in alerts:
                queued += Outbox.add(conn, key, body)
        if queued:
            log.warning("%d alert(s) queued (%s)", queued, noticed_by)
        return Examined("hashed", queued, seen)

    def _matches(self, path: str) -> Iterator[tuple[Item, ContentHashes, list[Any]]]:
        """(item, hashes, matches) of each thing in the file that matched."""
        items = read_items([Path(path)], self.config.limits, ReadStats())
        # A file's views (cropped, captioned copies) only where the bank holds some.
        views = QUERY_VIEWS if self.matcher.has_views else ()
        hashed = hash_in_parallel(
            items, _source, workers=1, variants=True, extra_kinds=self.extra_kinds, views=views
        )
        for item, hashes, _error in hashed:
            if hashes is None:
                continue
            found = self.matcher.match(
                hashes.signals(),
                pdq_quality=hashes.pdq_quality,
                pdq_variants=hashes.pdq_variants,
                pdq_views=hashes.pdq_views,
            )
            if found.matches:
                yield item, hashes, strongest_first(found.matches)

    def _alert(
        self,
        item: Item,
        hashes: ContentHashes,
        matches: list[Any],
        info: os.stat_result,
        noticed_by: str,
        detected: float,
    ) -> tuple[str, dict[str, Any]]:
        signals = hashes.signals()
        found = []
        for m in matches:
            shown = m.to_json()
            if m.kind == "vpdq":
                shown["value"] = ""  # a video's frame list is long, and the service re-finds it
            found.append(shown)
        body: dict[str, Any] = {
            "agent": self.config.agent_id,
            "host": self.config.host,
            "user": _owner(info.st_uid),
            "path": item.path,
            "size": hashes.size,
            "times": {"modified": _iso(info.st_mtime), "changed": _iso(info.st_ctime)},
            "hashes": {k: signals[k] for k in ALERT_HASHES if k in signals},
            "matches": found,
            "noticed_by": noticed_by,
            "agent_version": __version__,
            "bank_version": self.shown_version,
            "detected": _iso(detected),
        }
        birth = getattr(info, "st_birthtime", None)
        if birth:
            body["times"]["created"] = _iso(birth)
        key = alert_key(
            self.config.agent_id,
            (info.st_dev, info.st_ino),
            item.path,
            hashes.sha256,
            [(m.kind, m.value) for m in matches],
        )
        return key, body
