"""Provenance and votes: which organisations claim an entry, with which category, and who
confirms or disputes it. An entry's category is the consensus of the claims of organisations
that do not dispute it (the most severe); peers' claims (`peer:NAME`, from bundles) are shown
beside it but never count.

The module's functions run in the caller's transaction (adding entries and applying peers'
changes record claims too); `SqlProvenance` is the store consumers use.
"""

from __future__ import annotations

from hashwarden._sql import Database
from hashwarden._time import utc_now
from hashwarden.bank._audit import SqlAudit
from hashwarden.bank._rows import get_entry
from hashwarden.bank.base import ORIGIN_KEY, Entry, entry_digest
from hashwarden.bank.categories import most_severe
from hashwarden.errors import UsageError

__all__ = [
    "SqlProvenance",
    "apply_consensus",
    "claim_beside_owner",
    "consensus",
    "note_claim",
    "other_claims",
    "withdraw_claim",
]


def note_claim(
    db: Database, entry_id: int, org: str, category: str, list_name: str | None, now: str
) -> bool:
    """Record an organisation's claim on an entry; True if its category claim changed.
    An `uncategorised` claim never replaces a category the organisation gave before."""
    row = db.execute(
        "SELECT category FROM provenance WHERE entry_id = ? AND org = ?", (entry_id, org)
    ).fetchone()
    previous = None if row is None else str(row[0])
    if category == "uncategorised" and previous is not None:
        category = previous
    db.execute(
        "INSERT INTO provenance(entry_id, org, category, list_name, imported)"
        " VALUES (?,?,?,?,?) ON CONFLICT (entry_id, org) DO UPDATE SET"
        " category = excluded.category, list_name = excluded.list_name,"
        " imported = excluded.imported",
        (entry_id, org, category, list_name, now),
    )
    return category != "uncategorised" and category != previous


def other_claims(db: Database, entry_id: int, org: str) -> set[str]:
    """The real categories other organisations claim for an entry."""
    return {
        str(r[0])
        for r in db.execute(
            "SELECT category FROM provenance WHERE entry_id = ? AND org <> ?"
            " AND category <> 'uncategorised'",
            (entry_id, org),
        )
    }


def consensus(db: Database, entry_id: int) -> str | None:
    """The most severe category the organisations that do not dispute the entry claim;
    `uncategorised` claims say nothing, so None when no real category is claimed. Peers'
    claims (`peer:NAME`, from bundles) never count: a peer speaks only for its own entries."""
    rows = db.execute(
        "SELECT p.category FROM provenance p LEFT JOIN votes v"
        " ON v.entry_id = p.entry_id AND v.org = p.org"
        " WHERE p.entry_id = ? AND p.category <> 'uncategorised'"
        " AND p.org NOT LIKE 'peer:%'"
        " AND (v.vote IS NULL OR v.vote <> 'dispute')",
        (entry_id,),
    ).fetchall()
    return most_severe([str(r[0]) for r in rows]) if rows else None


def apply_consensus(db: Database, entry_id: int, version: int) -> tuple[int, int] | None:
    """Set the entry's category to the consensus (left as it is when no organisation
    claims a real category); (new, old) digests if it changed."""
    agreed = consensus(db, entry_id)
    old = get_entry(db, entry_id)
    if agreed is None or agreed == old.category:
        return None
    new = Entry(**{**old.__dict__, "category": agreed})
    old_digest = entry_digest(entry_id, old, old.added)
    new_digest = entry_digest(entry_id, new, old.added)
    db.execute(
        "UPDATE entries SET category = ?, version = ?, digest = ? WHERE id = ?",
        (agreed, version, new_digest, entry_id),
    )
    return int(new_digest, 16), int(old_digest, 16)


def claim_beside_owner(
    db: Database, held: Entry, category: str, claimant: str, list_name: str | None, now: str
) -> None:
    """Record a peer's view of an entry it does not own, next to the owner's own view
    (kept if present) so that `conflicts` shows any disagreement."""
    owner_origin = held.extra.get(ORIGIN_KEY)
    if owner_origin is None:
        owner = held.source or "local"
    else:
        row = db.execute(
            "SELECT key_name FROM bundle_state WHERE origin = ?", (str(owner_origin),)
        ).fetchone()
        owner = f"peer:{row[0]}" if row else f"origin:{owner_origin}"
    db.execute(
        "INSERT INTO provenance(entry_id, org, category, list_name, imported)"
        " VALUES (?,?,?,?,?) ON CONFLICT (entry_id, org) DO NOTHING",
        (held.id, owner, held.category, None, now),
    )
    note_claim(db, held.id, claimant, category, list_name, now)


def withdraw_claim(db: Database, entry_id: int, claimant: str) -> bool:
    rows = db.execute(
        "DELETE FROM provenance WHERE entry_id = ? AND org = ? RETURNING entry_id",
        (entry_id, claimant),
    ).fetchall()
    return bool(rows)


class SqlProvenance:
    """Claims and votes on entries (implements `ProvenanceStore`)."""

    def __init__(self, db: Database, audit: SqlAudit) -> None:
        self._db = db
        self._audit = audit

    def claims(self, entry_id: int) -> list[tuple[str, str, str | None, str]]:
        """(organisation, its category, list, when) for an entry."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._db.execute(
                "SELECT org, category, list_name, imported FROM provenance WHERE entry_id = ?"
                " ORDER BY org",
                (entry_id,),
            )
        ]

    def votes(self, entry_id: int) -> list[tuple[str, str, str | None, str]]:
        """(organisation, confirm or dispute, reason, when) for an entry."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._db.execute(
                "SELECT org, vote, reason, at FROM votes WHERE entry_id = ? ORDER BY org",
                (entry_id,),
            )
        ]

    def conflicts(self) -> dict[int, dict[str, str]]:
        """Entries whose organisations disagree on the category: entry id → org → category."""
        found: dict[int, dict[str, str]] = {}
        for entry_id, org, category in self._db.execute(
            "SELECT entry_id, org, category FROM provenance WHERE entry_id IN"
            " (SELECT entry_id FROM provenance GROUP BY entry_id"
            "  HAVING COUNT(DISTINCT category) > 1) ORDER BY entry_id, org"
        ):
            found.setdefault(int(entry_id), {})[org] = category
        return found

    def vote(
        self, entry_id: int, org: str, vote: str, *, reason: str | None = None, actor: str = "cli"
    ) -> str:
        """Record an organisation's confirm or dispute of an entry; returns the category after
        the consensus is recomputed (a dispute takes that organisation's category out of it)."""
        if vote not in ("confirm", "dispute"):
            raise UsageError(f"a vote is confirm or dispute, not {vote!r}")
        with self._db.transaction():
            get_entry(self._db, entry_id)
            version = self._audit.next_seq()
            with self._audit.tracked("votes", "entry_id = ? AND org = ?", (entry_id, org)):
                self._db.execute(
                    "INSERT INTO votes(entry_id, org, vote, reason, at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (entry_id, org) DO UPDATE SET vote = excluded.vote,"
                    " reason = excluded.reason, at = excluded.at",
                    (entry_id, org, vote, reason, utc_now()),
                )
            changed = apply_consensus(self._db, entry_id, version)
            plus, minus = changed if changed else (0, 0)
            self._audit.record(
                actor,
                "entry.vote",
                {
                    "id": entry_id,
                    "org": org,
                    "vote": vote,
                    "reason": reason,
                    "plus": f"{plus:064x}",
                    "minus": f"{minus:064x}",
                },
            )
        return get_entry(self._db, entry_id).category

    def disputed(self) -> set[int]:
        """Entries more organisations dispute than confirm (for matching policies)."""
        return {
            int(r[0])
            for r in self._db.execute(
                "SELECT entry_id FROM votes GROUP BY entry_id"
                " HAVING SUM(CASE WHEN vote = 'dispute' THEN 1 ELSE -1 END) > 0"
            )
        }
