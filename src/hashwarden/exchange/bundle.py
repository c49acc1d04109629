"""Signed delta bundles between hashwarden nodes, and the keys that sign them.

A bundle carries what changed in a bank after one audit sequence number and up to another:
entries added or changed (with every field) and the signals of entries removed. Its body is
canonical JSON signed with Ed25519. A receiving bank accepts a bundle only when:
- it is signed, by a key the bank trusts (`keys add`) and has not revoked;
- the signature verifies over the body (any change to it breaks the signature);
- it continues exactly where the last bundle from the same origin bank stopped (`since`
  equals the last sequence applied): an older one is a replay, a later one is out of order.
Applying it is one transaction, so a refused or failed bundle changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hashwarden.bank.base import Entry, NewEntry
from hashwarden.bank.sqlite import SqliteBank, utc_now
from hashwarden.errors import ConflictError, DataError, IntegrityError, NotFoundError, UsageError
from hashwarden.exchange.base import signal_or_error

__all__ = [
    "FORMAT",
    "ORIGIN_KEY",
    "add_trusted_key",
    "build_bundle",
    "generate_keys",
    "import_bundle",
    "read_private_key",
    "read_public_key",
    "revoke_trusted_key",
]

FORMAT = "hashwarden-bundle"
#: Marks an entry received in a bundle with the bank it came from; such entries are not
#: published again (no echo), their origin stays authoritative for them.
ORIGIN_KEY = "hashwarden:origin"
_VERSION = 1


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def generate_keys(name: str, folder: Path) -> tuple[Path, Path]:
    """Write NAME.key (private, mode 600) and NAME.pub; refuses to overwrite."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"{name!r} is not a usable key name")
    private_path, public_path = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise ConflictError(f"{path} already exists")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_path.write_text(f"ed25519 {_b64(raw)} {name}\n")
    return private_path, public_path


def read_public_key(path: Path) -> tuple[str, str]:
    """(name, base64 key) from a NAME.pub file."""
    try:
        kind, key, name = path.read_text().split()
        if kind != "ed25519" or len(base64.b64decode(key, validate=True)) != 32:
            raise ValueError
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path} is not a hashwarden public key ('ed25519 <base64> <name>')"
        ) from exc
    return name, key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in a NAME.key file."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path} is not a private key file ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise DataError(f"{path} is not an Ed25519 private key")
    return key


def add_trusted_key(bank: SqliteBank, public_path: Path, *, actor: str = "cli") -> str:
    name, key = read_public_key(public_path)
    with bank.transaction() as conn, bank.tracked("trusted_keys", "name = ?", (name,)):
        if conn.execute(
            "SELECT 1 FROM trusted_keys WHERE name = ? OR public_key = ?", (name, key)
        ).fetchone():
            raise ConflictError(
                f"key {name!r} (or the same key under another name) is trusted already"
            )
        conn.execute(
            "INSERT INTO trusted_keys(name, public_key, added) VALUES (?,?,?)",
            (name, key, utc_now()),
        )
        bank.record(actor, "keys.add", {"name": name, "public_key": key})
    return name


def revoke_trusted_key(bank: SqliteBank, name: str, *, actor: str = "cli") -> None:
    with bank.transaction() as conn, bank.tracked("trusted_keys", "name = ?", (name,)):
        row = conn.execute("SELECT revoked FROM trusted_keys WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no trusted key named {name!r}")
        conn.execute("UPDATE trusted_keys SET revoked = ? WHERE name = ?", (utc_now(), name))
        bank.record(actor, "keys.revoke", {"name": name})


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "signals": sorted([s.kind, s.value] for s in entry.signals),
        "category": entry.category,
        "series": entry.series,
        "victim_identified": entry.victim_identified,
        "source": entry.source,
        "first_seen": entry.first_seen,
        "note": entry.note,
        "extra": entry.extra,
    }


def build_bundle(
    bank: SqliteBank,
    *,
    since: int,
    key_path: Path,
    categories: set[str] | None = None,
    sources: set[str] | None = None,
) -> dict[str, Any]:
    """The signed delta of `bank` after audit sequence `since`, within the sharing policy:
    entries flagged `do_not_share` (in extra) and, when given, other categories or sources
    stay home."""
    key = read_private_key(key_path)
    sequence, _ = bank.head()
    if since < 0 or since > sequence:
        raise UsageError(f"--since {since} is outside this bank's history (0 to {sequence})")

    def shared(entry: Entry) -> bool:
        return (
            not entry.extra.get("do_not_share")
            and ORIGIN_KEY not in entry.extra  # received from a peer: its origin shares it
            and (categories is None or entry.category in categories)
            and (sources is None or (entry.source or "") in sources)
        )

    upserts = [_entry_json(e) for e in bank.entries(since_version=since) if shared(e)]
    # Only this bank's own removals: those it applied from peers are theirs to announce.
    removed = [
        event.detail["signals"]
        for event in bank.audit_events(after=since)
        if event.action == "entry.remove"
    ]
    body = {
        "format": FORMAT,
        "version": _VERSION,
        "origin": bank.bank_id,
        "since": since,
        "sequence": sequence,
        "created": utc_now(),
        "upserts": upserts,
        "removals": removed,
    }
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {"body": body, "key": _b64(public), "signature": _b64(key.sign(_canonical(body)))}


def import_bundle(bank: SqliteBank, path: Path, *, actor: str = "cli") -> dict[str, int]:
    """Verify and apply a bundle; refuses unsigned, untrusted, tampered, replayed and
    out-of-order bundles with IntegrityError or ConflictError, changing nothing."""
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a bundle (not JSON: {exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("body"), dict):
        raise DataError(f"{path} is not a hashwarden bundle")
    body = document["body"]
    if body.get("format") != FORMAT or body.get("version") != _VERSION:
        raise DataError(f"{path} is not a hashwarden bundle of version {_VERSION}")
    if not document.get("signature") or not document.get("key"):
        raise IntegrityError(f"{path} is not signed: refused")
    row = bank.trusted_key(str(document["key"]))
    if row is None:
        raise IntegrityError(f"{path} is signed by a key this bank does not trust")
    key_name, revoked = row
    if revoked:
        raise IntegrityError(f"{path} is signed by key {key_name!r}, revoked on {revoked}")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(document["key"])).verify(
            base64.b64decode(document["signature"]), _canonical(body)
        )
    except (InvalidSignature, ValueError) as exc:
        raise IntegrityError(
            f"{path}: the signature does not verify: the bundle was altered after signing"
        ) from exc
    origin, since, sequence = str(body["origin"]), int(body["since"]), int(body["sequence"])
    if origin == bank.bank_id:
        raise ConflictError(f"{path} comes from this very bank")
    last = bank.bundle_sequence(origin)
    if sequence <= last:
        raise ConflictError(
            f"{path} was applied already (replay): this bank has {origin} up to "
            f"{last}, the bundle ends at {sequence}"
        )
    if since != last:
        raise ConflictError(
            f"{path} is out of order: this bank has {origin} up to {last}, the "
            f"bundle starts after {since}; apply the bundles in between first"
        )
    upserts = [
        _new_entry(u, f"{path.name} upsert {n}", origin) for n, u in enumerate(body["upserts"], 1)
    ]
    removals = [
        [signal_or_error(k, v, f"{path.name} removal") for k, v in signals]
        for signals in body["removals"]
    ]

    def remember(conn: Any) -> None:
        with bank.tracked("bundle_state", "origin = ?", (origin,)):
            conn.execute("DELETE FROM bundle_state WHERE origin = ?", (origin,))
            conn.execute(
                "INSERT INTO bundle_state(origin, last_sequence, key_name, applied)"
                " VALUES (?,?,?,?)",
                (origin, sequence, key_name, utc_now()),
            )

    result = bank.apply_changes(
        upserts,
        removals,
        actor=actor,
        action="bundle.import",
        detail={"origin": origin, "since": since, "sequence": sequence, "key": key_name},
        also=remember,
    )
    return {
        "added": len(result.added),
        "updated": len(result.updated),
        "removed": len(result.removed),
    }


def _new_entry(raw: Any, where: str, origin: str) -> NewEntry:
    try:
        extra = dict(raw.get("extra") or {})
        extra[ORIGIN_KEY] = origin
        return NewEntry(
            [signal_or_error(k, v, where) for k, v in raw["signals"]],
            str(raw["category"]),
            raw.get("series"),
            bool(raw.get("victim_identified")),
            raw.get("source"),
            raw.get("first_seen"),
            raw.get("note"),
            extra,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: malformed entry ({exc})") from exc
