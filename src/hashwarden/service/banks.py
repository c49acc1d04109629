"""Named banks inside one hashwarden bank: what a platform calls "banks" (as HMA does).

An entry (one piece of content, deduplicated by its hashes) can sit in several named banks. A
named bank has its own match threshold (it can only tighten the service's), can be disabled
for a time, and can be *negative*: a match in a negative bank (say, the platform's own known
false positives) suppresses every other match of that upload. Entries that sit in no named
bank (added by the CLI or by imports) match under the name `default`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from hashwarden._time import as_stored, parse_utc, utc_now, utc_text
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import ConflictError, NotFoundError, UsageError
from hashwarden.index.matcher import Match

__all__ = ["DEFAULT_BANK", "BankMatch", "NamedBank", "NamedBanks", "Resolved"]

DEFAULT_BANK = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_COLUMNS = "name, threshold, negative, enabled_ratio, disabled_until, created, note"
_MEMBER = "bank = ? AND entry_id = ?"


def parse_until(value: str | None) -> str | None:
    """An ISO 8601 time (`2027-01-01` or `2027-01-01T12:00:00Z`; UTC unless it says
    otherwise) as stored UTC text, or None."""
    if value is None:
        return None
    try:
        return utc_text(parse_utc(value))
    except ValueError as exc:
        raise UsageError(f"{value!r} is not an ISO 8601 date or time") from exc


def _until(stored: str | None) -> str | None:
    """A stored `disabled_until` as today's format: rows written before it held whole
    seconds (`...06Z`), which would compare as later than any `...06.xxxxxxZ`."""
    return None if stored is None else as_stored(str(stored))


@dataclass(frozen=True, slots=True)
class NamedBank:
    name: str
    threshold: int | None
    negative: bool
    enabled_ratio: float
    disabled_until: str | None
    created: str
    note: str | None

    def enabled(self, now: str, coinflip: float = 0.0) -> bool:
        """Matching on: not disabled until later, and (HMA's gradual roll-out) the request's
        coin flip within the enabled ratio."""
        live = self.disabled_until is None or self.disabled_until <= now
        return live and self.enabled_ratio > 0 and self.enabled_ratio >= coinflip

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "negative": self.negative,
            "enabled": self.enabled(utc_now()),
            "matching_enabled_ratio": self.enabled_ratio,
            "disabled_until": self.disabled_until,
            "created": self.created,
            "note": self.note,
        }


@dataclass(slots=True)
class BankMatch:
    """A match, with the named banks it counts in."""

    match: Match
    banks: list[str]
    #: The programmes whose records brought the entry: name, record id, tags.
    exchanges: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Resolved:
    matches: list[BankMatch] = field(default_factory=list)
    #: Negative banks that matched: when any did, `matches` is empty.
    suppressed_by: list[str] = field(default_factory=list)


class NamedBanks:
    """The named banks of one bank; callers serialise access (the service holds its lock)."""

    def __init__(self, bank: BankStore) -> None:
        self.bank = bank

    def _row(self, row: tuple[Any, ...]) -> NamedBank:
        name, threshold, negative, ratio, until, created, note = row
        return NamedBank(
            str(name), threshold, bool(negative), float(ratio), _until(until), str(created), note
        )

    def all(self) -> list[NamedBank]:
        rows = self.bank.db.query(f"SELECT {_COLUMNS} FROM named_banks ORDER BY name")
        return [self._row(r) for r in rows]

    def get(self, name: str) -> NamedBank:
        rows = self.bank.db.query(f"SELECT {_COLUMNS} FROM named_banks WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no bank named {name!r}")
        return self._row(rows[0])

    def create(
        self,
        name: str,
        *,
        threshold: int | None = None,
        negative: bool = False,
        enabled_ratio: float = 1.0,
        note: str | None = None,
        actor: str,
    ) -> NamedBank:
        if not _NAME.fullmatch(name) or name == DEFAULT_BANK:
            raise UsageError(
                f"bank name {name!r}: letters, digits, _ and - only, up to 64, not {DEFAULT_BANK!r}"
            )
        self._check(threshold, enabled_ratio)
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("named_banks", "name = ?", (name,)),
        ):
            if conn.execute("SELECT 1 FROM named_banks WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"a bank named {name!r} exists already")
            conn.execute(
                "INSERT INTO named_banks(name, threshold, negative, enabled_ratio, created, note)"
                " VALUES (?,?,?,?,?,?)",
                (name, threshold, int(negative), enabled_ratio, utc_now(), note),
            )
            self.bank.audit.record(
                actor, "bank.create", {"name": name, "threshold": threshold, "negative": negative}
            )
        return self.get(name)

    @staticmethod
    def _check(threshold: int | None, enabled_ratio: float | None) -> None:
        if threshold is not None and not 0 <= threshold <= 256:
            raise UsageError("threshold must be between 0 and 256")
        if enabled_ratio is not None and not 0.0 <= enabled_ratio <= 1.0:
            raise UsageError("matching_enabled_ratio must be between 0 and 1")

    def update(self, name: str, changes: dict[str, Any], *, actor: str) -> NamedBank:
        """Change threshold, negative, enabled_ratio, disabled_until or note."""
        allowed = {"threshold", "negative", "enabled_ratio", "disabled_until", "note"}
        unknown = set(changes) - allowed
        if unknown:
            raise UsageError(f"cannot change {', '.join(sorted(unknown))}")
        self._check(changes.get("threshold"), changes.get("enabled_ratio"))
        if "disabled_until" in changes:
            changes["disabled_until"] = parse_until(changes["disabled_until"])
        if "negative" in changes:
            changes["negative"] = int(bool(changes["negative"]))
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("named_banks", "name = ?", (name,)),
        ):
            self.get(name)
            for column, value in changes.items():
                conn.execute(f"UPDATE named_banks SET {column} = ? WHERE name = ?", (value, name))
            self.bank.audit.record(actor, "bank.update", {"name": name, **changes})
        return self.get(name)

    def rename(self, name: str, new_name: str, *, actor: str) -> NamedBank:
        """Rename a bank with its members (HMA's `PUT /c/bank/{name}` takes a new name).
        Refused while an action rule or an exchange names it: they would silently stop
        applying to it."""
        if not _NAME.fullmatch(new_name) or new_name == DEFAULT_BANK:
            raise UsageError(f"bank name {new_name!r}: letters, digits, _ and - only, up to 64")
        db = self.bank.db
        for table, column, what in (
            ("action_rules", "bank", "an action rule"),
            ("programme_exchanges", "named_bank", "an exchange"),
        ):
            if db.has_table(table) and db.query(
                f"SELECT 1 FROM {table} WHERE {column} = ?", (name,)
            ):
                raise UsageError(f"{what} names bank {name!r}: change it first")
        both = (name, new_name)
        with (
            db.transaction() as conn,
            self.bank.audit.tracked("named_bank_entries", "bank IN (?, ?)", both),
            self.bank.audit.tracked("named_banks", "name IN (?, ?)", both),
        ):
            self.get(name)
            if conn.execute("SELECT 1 FROM named_banks WHERE name = ?", (new_name,)).fetchone():
                raise ConflictError(f"a bank named {new_name!r} exists already")
            conn.execute(
                f"INSERT INTO named_banks({_COLUMNS}) SELECT ?, threshold, negative,"
                " enabled_ratio, disabled_until, created, note FROM named_banks WHERE name = ?",
                both[::-1],
            )
            conn.execute("UPDATE named_bank_entries SET bank = ? WHERE bank = ?", both[::-1])
            conn.execute("DELETE FROM named_banks WHERE name = ?", (name,))
            self.bank.audit.record(actor, "bank.rename", {"name": name, "new_name": new_name})
        return self.get(new_name)

    def delete(self, name: str, *, actor: str) -> None:
        """Delete the named bank; its entries stay in the bank (and in other named banks)."""
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("named_bank_entries", "bank = ?", (name,)),
            self.bank.audit.tracked("named_banks", "name = ?", (name,)),
        ):
            self.get(name)
            conn.execute("DELETE FROM named_bank_entries WHERE bank = ?", (name,))
            conn.execute("DELETE FROM named_banks WHERE name = ?", (name,))
            self.bank.audit.record(actor, "bank.delete", {"name": name})

    def add_members(self, name: str, entry_ids: list[int], *, actor: str) -> None:
        with self.bank.db.transaction() as conn:
            self.get(name)
            now = utc_now()
            for entry_id in entry_ids:
                # One row at a time: a large bank's other members are never read.
                with self.bank.audit.tracked("named_bank_entries", _MEMBER, (name, entry_id)):
                    conn.execute(
                        "INSERT INTO named_bank_entries(bank, entry_id, added) VALUES (?,?,?)"
                        " ON CONFLICT (bank, entry_id) DO NOTHING",
                        (name, entry_id, now),
                    )
            self.bank.audit.record(actor, "bank.add_entries", {"name": name, "ids": entry_ids[:20]})

    @staticmethod
    def _require_member(conn: Any, name: str, entry_id: int) -> None:
        row = conn.execute(
            "SELECT 1 FROM named_bank_entries WHERE bank = ? AND entry_id = ?", (name, entry_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"entry {entry_id} is not in bank {name!r}")

    def remove_member(self, name: str, entry_id: int, *, actor: str) -> None:
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("named_bank_entries", _MEMBER, (name, entry_id)),
        ):
            self._require_member(conn, name, entry_id)
            conn.execute(
                "DELETE FROM named_bank_entries WHERE bank = ? AND entry_id = ?", (name, entry_id)
            )
            self.bank.audit.record(actor, "bank.remove_entry", {"name": name, "id": entry_id})

    def disable_member(self, name: str, entry_id: int, until: str | None, *, actor: str) -> None:
        """Stop an entry matching in this bank until a time (None: enable it again)."""
        when = parse_until(until)
        with (
            self.bank.db.transaction() as conn,
            self.bank.audit.tracked("named_bank_entries", _MEMBER, (name, entry_id)),
        ):
            self._require_member(conn, name, entry_id)
            conn.execute(
                "UPDATE named_bank_entries SET disabled_until = ? WHERE bank = ? AND entry_id = ?",
                (when, name, entry_id),
            )
            self.bank.audit.record(
                actor, "bank.disable_entry", {"name": name, "id": entry_id, "until": when}
            )

    def members(self, name: str, *, limit: int, after: int = 0) -> list[tuple[int, str | None]]:
        """(entry id, disabled until) of a named bank, in id order, for paging."""
        self.get(name)
        rows = self.bank.db.query(
            "SELECT entry_id, disabled_until FROM named_bank_entries WHERE bank = ?"
            " AND entry_id > ? ORDER BY entry_id LIMIT ?",
            (name, after, limit),
        )
        return [(int(i), _until(u)) for i, u in rows]

    def memberships(self, entry_ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
        if not entry_ids:
            return {}
        marks = ",".join("?" * len(entry_ids))
        rows = self.bank.db.query(
            "SELECT entry_id, bank, disabled_until FROM named_bank_entries"
            f" WHERE entry_id IN ({marks})",
            entry_ids,
        )
        out: dict[int, list[tuple[str, str | None]]] = {}
        for entry_id, bank, until in rows:
            out.setdefault(int(entry_id), []).append((str(bank), _until(until)))
        return out

    def resolve(
        self, matches: list[Match], *, only: set[str] | None = None, coinflip: float | None = None
    ) -> Resolved:
        """Which named banks each match counts in: per-bank thresholds, disabled banks and
        entries, and negative banks applied. `only` restricts to those bank names; `coinflip`
        (default: a random draw) decides banks enabled for only part of the traffic."""
        now = utc_now()
        flip = random.random() if coinflip is None else coinflip
        # One match an entry: the matcher reports each signal kind that hit; keep the closest,
        # an exact digest before a perceptual hash at the same distance.
        best: dict[int, Match] = {}
        for match in sorted(matches, key=lambda m: (m.distance, m.kind in ("pdq", "vpdq"))):
            best.setdefault(match.entry, match)
        matches = list(best.values())
        banks = {b.name: b for b in self.all()}
        members = self.memberships(sorted({m.entry for m in matches}))
        resolved = Resolved()
        negative: set[str] = set()
        for match in matches:
            names = []
            listed = members.get(match.entry)
            if not listed:
                names = [DEFAULT_BANK]
            for name, until in listed or []:
                bank = banks.get(name)
                if (
                    bank is None
                    or not bank.enabled(now, flip)
                    or (until is not None and until > now)
                ):
                    continue
                if bank.threshold is not None and match.distance > bank.threshold:
                    continue
                if bank.negative:
                    negative.add(name)
                else:
                    names.append(name)
            if only is not None:
                names = [n for n in names if n in only]
            if names:
                resolved.matches.append(BankMatch(match, names))
        if negative:
            return Resolved([], sorted(negative))
        return resolved
