"""Trust in other banks: the keys whose signed bundles are applied, the origins (bank ids)
each key may sign for, and how far each origin's bundles were applied (the replay guard).
The policy (what to refuse, and with which message) is exchange/bundle.py's; the rows are
written there, in the audited transaction of the import or the `keys` command."""

from __future__ import annotations

from hashwarden._sql import Database

__all__ = ["SqlTrust"]


class SqlTrust:
    """Reads of the trust tables of one bank (implements `TrustStore`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_keys(self) -> list[tuple[str, str, str, str | None]]:
        """(name, public key, added, revoked or None) of every key bundles may be signed with."""
        rows = self._db.execute(
            "SELECT name, public_key, added, revoked FROM trusted_keys ORDER BY name"
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]

    def key(self, public_key: str) -> tuple[str, str | None] | None:
        """(name, revoked or None) of a trusted public key, or None if it is not trusted."""
        row = self._db.execute(
            "SELECT name, revoked FROM trusted_keys WHERE public_key = ?", (public_key,)
        ).fetchone()
        return (str(row[0]), row[1]) if row else None

    def bundle_sequence(self, origin: str) -> int:
        """The last audit sequence of `origin` applied from its bundles (0 if none)."""
        row = self._db.execute(
            "SELECT last_sequence FROM bundle_state WHERE origin = ?", (origin,)
        ).fetchone()
        return int(row[0]) if row else 0

    def bound_key(self, origin: str) -> tuple[str, bool] | None:
        """(name of the key the origin is bound to, whether the binding is recorded), or None.
        Banks from before bindings existed: the key that signed the origin's bundles so far."""
        row = self._db.execute(
            "SELECT key_name FROM trusted_key_origins WHERE origin = ?", (origin,)
        ).fetchone()
        if row:
            return str(row[0]), True
        row = self._db.execute(
            "SELECT key_name FROM bundle_state WHERE origin = ?", (origin,)
        ).fetchone()
        return (str(row[0]), False) if row else None

    def origins_of(self, key_name: str) -> list[str]:
        """The origins a key is bound to (recorded, or from its bundles before bindings)."""
        recorded = self._db.query(
            "SELECT origin FROM trusted_key_origins WHERE key_name = ?", (key_name,)
        )
        earlier = self._db.query(
            "SELECT origin FROM bundle_state WHERE key_name = ? AND origin NOT IN"
            " (SELECT origin FROM trusted_key_origins)",
            (key_name,),
        )
        return sorted({str(r[0]) for r in [*recorded, *earlier]})
