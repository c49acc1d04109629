"""Signed delta bundles between hashwarden nodes, and the keys that sign them.

A bundle carries what changed in a bank after one audit sequence number and up to another:
entries added or changed (with every field) and the signals of entries removed. Its body is
canonical JSON signed with Ed25519 (the envelope and the key files: hashwarden.signing; their
functions are named here too, where the trust commands look). A receiving bank accepts a bundle only when:
- it is well formed (every field of the type it should be: a malformed one is a DataError);
- it is signed, by a key the bank trusts (`keys add`) and has not revoked;
- the signature verifies over the body (any change to it breaks the signature);
- the signing key is bound to the bundle's origin (the sending bank's id): bound when the key
  is added (`origins`) or by the first bundle it signs; one origin belongs to one key;
- it continues exactly where the last bundle from the same origin bank stopped (`since`
  equals the last sequence applied): an older one is a replay, a later one is out of order.
Applying it is one transaction, so a refused or failed bundle changes nothing. The peer speaks
only for itself: see `ChangeStore.apply` (bank/_changes.py) and docs/exchange.md ("Trust model").
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashwarden._time import utc_now
from hashwarden.bank.base import ORIGIN_KEY, Entry, NewEntry
from hashwarden.bank.categories import CATEGORIES
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import ConflictError, DataError, IntegrityError, NotFoundError, UsageError
from hashwarden.exchange.base import signal_or_error
from hashwarden.signals.base import Signal
from hashwarden.signing import (
    canonical_json,
    generate_keys,
    read_private_key,
    read_public_key,
    sign_envelope,
    verify_signature,
)

__all__ = [
    "FORMAT",
    "ORIGIN_KEY",
    "PERSONAL_FIELDS",
    "add_trusted_key",
    "apply_bundle",
    "build_bundle",
    "generate_keys",
    "import_bundle",
    "key_origins",
    "read_private_key",
    "read_public_key",
    "revoke_trusted_key",
    "sign_body",
]

FORMAT = "hashwarden-bundle"
#: Fields of an entry's extra that may identify a person (original file names and paths,
#: EXIF data such as GPS positions and camera owners, case details, free comments): left out
#: of bundles unless `include_file_names` is asked for.
PERSONAL_FIELDS = ("file_name", "MediaFiles", "Exifs", "Comments", "vics:case")
_VERSION = 1
_MAX_SEQUENCE = 2**63 - 1  # what SQLite and PostgreSQL integers hold


def _bank_id(text: str) -> str:
    """An origin as given on the command line, checked and in the form banks write it."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise UsageError(f"--origin {text!r} is not a bank id (`bank stats` shows it)") from None


def add_trusted_key(
    bank: BankStore, public_path: Path, *, origins: Iterable[str] = (), actor: str = "cli"
) -> str:
    """Trust bundles signed by this key; `origins` binds it to the banks it may sign for
    (none: it is bound to the origin of the first bundle it signs). An origin bound to
    another key is refused unless that key is revoked (then it passes to this one)."""
    name, key = read_public_key(public_path)
    wanted = sorted({_bank_id(o) for o in origins})
    if bank.bank_id in wanted:
        raise UsageError(f"--origin {bank.bank_id} is this very bank")
    marks = ",".join("?" * len(wanted))
    bindings = f"key_name = ? OR origin IN ({marks})" if wanted else "key_name = ?"
    with (
        bank.db.transaction() as conn,
        bank.audit.tracked("trusted_keys", "name = ?", (name,)),
        bank.audit.tracked("trusted_key_origins", bindings, (name, *wanted)),
    ):
        if conn.execute(
            "SELECT 1 FROM trusted_keys WHERE name = ? OR public_key = ?", (name, key)
        ).fetchone():
            raise ConflictError(
                f"key {name!r} (or the same key under another name) is trusted already"
            )
        rebound: dict[str, str] = {}
        for origin in wanted:
            holder = bank.trust.bound_key(origin)
            if holder is None:
                continue
            revoked = conn.execute(
                "SELECT revoked FROM trusted_keys WHERE name = ?", (holder[0],)
            ).fetchone()
            if not (revoked and revoked[0]):
                raise ConflictError(
                    f"origin {origin} is bound to key {holder[0]!r} already (a new key for "
                    "it can be added once that one is revoked)"
                )
            # Key rotation: the origin passes from a revoked key to this one.
            conn.execute("DELETE FROM trusted_key_origins WHERE origin = ?", (origin,))
            rebound[origin] = holder[0]
        _trust(bank, conn, name, key, wanted, actor, {"rebound": rebound} if rebound else {})
    return name


def _trust(
    bank: BankStore,
    conn: Any,
    name: str,
    key: str,
    origins: list[str],
    actor: str,
    more: dict[str, Any],
) -> None:
    now = utc_now()
    conn.execute(
        "INSERT INTO trusted_keys(name, public_key, added) VALUES (?,?,?)", (name, key, now)
    )
    for origin in origins:
        conn.execute(
            "INSERT INTO trusted_key_origins(origin, key_name, bound, how) VALUES (?,?,?,?)",
            (origin, name, now, "keys add"),
        )
    bank.audit.record(
        actor, "keys.add", {"name": name, "public_key": key, "origins": origins, **more}
    )


def revoke_trusted_key(bank: BankStore, name: str, *, actor: str = "cli") -> None:
    with bank.db.transaction() as conn, bank.audit.tracked("trusted_keys", "name = ?", (name,)):
        row = conn.execute("SELECT revoked FROM trusted_keys WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no trusted key named {name!r}")
        conn.execute("UPDATE trusted_keys SET revoked = ? WHERE name = ?", (utc_now(), name))
        bank.audit.record(actor, "keys.revoke", {"name": name})


def key_origins(bank: BankStore) -> dict[str, list[str]]:
    """Trusted key name -> the origins (bank ids) it is bound to; keys bound to none yet are
    left out (they are bound by the first bundle they sign)."""
    found = {name: bank.trust.origins_of(name) for name, *_ in bank.trust.all_keys()}
    return {name: origins for name, origins in found.items() if origins}


def _shared_extra(extra: dict[str, Any], include_file_names: bool) -> dict[str, Any]:
    if include_file_names:
        return extra
    return {k: v for k, v in extra.items() if k not in PERSONAL_FIELDS}


def _entry_json(entry: Entry, include_file_names: bool) -> dict[str, Any]:
    return {
        "signals": sorted([s.kind, s.value] for s in entry.signals),
        "category": entry.category,
        "series": entry.series,
        "victim_identified": entry.victim_identified,
        "source": entry.source,
        "first_seen": entry.first_seen,
        "note": entry.note,
        "extra": _shared_extra(entry.extra, include_file_names),
    }


def sign_body(body: dict[str, Any], key_path: Path) -> dict[str, Any]:
    """A bundle document: the body, the signer's public key and its signature over the
    canonical body."""
    return sign_envelope(body, read_private_key(key_path))


def build_bundle(
    bank: BankStore,
    *,
    since: int,
    key_path: Path,
    categories: set[str] | None = None,
    sources: set[str] | None = None,
    include_file_names: bool = False,
) -> dict[str, Any]:
    """The signed delta of `bank` after audit sequence `since`, within the sharing policy:
    entries flagged `do_not_share` (in extra) and, when given, other categories or sources
    stay home; so do the PERSONAL_FIELDS of extra unless `include_file_names`."""
    read_private_key(key_path)  # a bad key file is refused before any work
    sequence, _ = bank.audit.head()
    if since < 0 or since > sequence:
        raise UsageError(f"--since {since} is outside this bank's history (0 to {sequence})")

    def shared(entry: Entry) -> bool:
        return (
            not entry.extra.get("do_not_share")
            and ORIGIN_KEY not in entry.extra  # received from a peer: its origin shares it
            and (categories is None or entry.category in categories)
            and (sources is None or (entry.source or "") in sources)
        )

    upserts = [
        _entry_json(e, include_file_names)
        for e in bank.entries.all(since_version=since)
        if shared(e)
    ]
    # Only this bank's own removals: those it applied from peers are theirs to announce.
    removed = [
        event.detail["signals"]
        for event in bank.audit.events(after=since)
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
    return sign_body(body, key_path)


def import_bundle(bank: BankStore, path: Path, *, actor: str = "cli") -> dict[str, int]:
    """Verify and apply the bundle in a file (see `apply_bundle`)."""
    return apply_bundle(bank, path.read_bytes(), str(path), actor=actor)


@dataclass
class _Body:
    origin: str
    since: int
    sequence: int
    upserts: list[NewEntry]
    removals: list[list[Signal]]


def apply_bundle(
    bank: BankStore,
    data: bytes,
    where: str,
    *,
    actor: str = "cli",
    pinned: tuple[str, str] | None = None,
) -> dict[str, int]:
    """Verify and apply a bundle (`data`, named `where` in messages); refuses malformed ones
    with DataError, unsigned, untrusted, tampered and wrongly-bound ones with IntegrityError,
    replayed and out-of-order ones with ConflictError, changing nothing.

    `pinned` (name, base64 public key): the bundle must be signed by exactly this key; if the
    bank does not trust it yet, it is trusted (and bound) together with this bundle, so only
    a bundle that verifies and applies makes it trusted."""
    document = _load(data, where)
    if not isinstance(document, dict) or not isinstance(document.get("body"), dict):
        raise DataError(f"{where} is not a hashwarden bundle")
    body = document["body"]
    version = body.get("version")
    if body.get("format") != FORMAT or type(version) is not int or version != _VERSION:
        raise DataError(f"{where} is not a hashwarden bundle of version {_VERSION}")
    key, signature = document.get("key"), document.get("signature")
    if not signature or not key:
        raise IntegrityError(f"{where} is not signed: refused")
    public, signed = _decode(key, where, "key"), _decode(signature, where, "signature")
    if len(public) != 32 or len(signed) != 64:
        raise DataError(f"{where}: the key or signature is not of Ed25519's length")
    row = bank.trust.key(key)
    if pinned is not None and key != pinned[1]:
        signer = f"key {row[0]!r}" if row else "a key this bank does not trust"
        raise IntegrityError(
            f"{where} is signed by {signer}, not by key {pinned[0]!r} that --key names: refused"
        )
    if row is not None:
        key_name, revoked = row
    elif pinned is not None:
        key_name, revoked = pinned[0], None  # trusted with this bundle, if it applies
    else:
        raise IntegrityError(f"{where} is signed by a key this bank does not trust")
    if revoked:
        raise IntegrityError(f"{where} is signed by key {key_name!r}, revoked on {revoked}")
    try:
        canonical = canonical_json(body)
    except (ValueError, RecursionError) as exc:  # UnicodeEncodeError: lone surrogates
        raise DataError(f"{where}: the body is not valid text ({exc})") from exc
    if not verify_signature(public, signed, canonical):
        raise IntegrityError(
            f"{where}: the signature does not verify: the bundle was altered after signing"
        )
    parsed = _parse_body(body, where)
    origin = parsed.origin
    if origin == bank.bank_id:
        raise ConflictError(f"{where} comes from this very bank")

    def admit(conn: Any) -> None:
        """Inside the transaction: trust a pinned key, check and record the binding, check
        the order and remember where the origin now stands."""
        if row is None:
            if conn.execute(
                "SELECT 1 FROM trusted_keys WHERE name = ? OR public_key = ?", (key_name, key)
            ).fetchone():
                raise ConflictError(f"{where}: a key named {key_name!r} is trusted already")
            with bank.audit.tracked("trusted_keys", "name = ?", (key_name,)):
                _trust(bank, conn, key_name, key, [], actor, {"via": where})
        bound = bank.trust.bound_key(origin)
        if bound is not None and bound[0] != key_name:
            raise IntegrityError(
                f"{where} names origin {origin}, which is bound to key {bound[0]!r}: key "
                f"{key_name!r} may not sign for it; refused"
            )
        if bound is None:
            mine = bank.trust.origins_of(key_name)
            if mine:
                raise IntegrityError(
                    f"{where} names origin {origin}, but key {key_name!r} is bound to origin "
                    f"{', '.join(mine)}; refused"
                )
        if bound is None or not bound[1]:
            how = "first use" if bound is None else "earlier bundles"
            with bank.audit.tracked("trusted_key_origins", "origin = ?", (origin,)):
                conn.execute(
                    "INSERT INTO trusted_key_origins(origin, key_name, bound, how)"
                    " VALUES (?,?,?,?)",
                    (origin, key_name, utc_now(), how),
                )
                bank.audit.record(
                    actor, "keys.bind", {"name": key_name, "origin": origin, "how": how}
                )
        last = bank.trust.bundle_sequence(origin)
        if parsed.sequence <= last:
            raise ConflictError(
                f"{where} was applied already (replay): this bank has {origin} up to "
                f"{last}, the bundle ends at {parsed.sequence}"
            )
        if parsed.since != last:
            raise ConflictError(
                f"{where} is out of order: this bank has {origin} up to {last}, the "
                f"bundle starts after {parsed.since}; apply the bundles in between first"
            )
        with bank.audit.tracked("bundle_state", "origin = ?", (origin,)):
            conn.execute("DELETE FROM bundle_state WHERE origin = ?", (origin,))
            conn.execute(
                "INSERT INTO bundle_state(origin, last_sequence, key_name, applied)"
                " VALUES (?,?,?,?)",
                (origin, parsed.sequence, key_name, utc_now()),
            )

    result = bank.changes.apply(
        parsed.upserts,
        parsed.removals,
        origin=origin,
        claimant=f"peer:{key_name}",
        list_name=Path(where).name or where,
        actor=actor,
        action="bundle.import",
        detail={
            "origin": origin,
            "since": parsed.since,
            "sequence": parsed.sequence,
            "key": key_name,
        },
        before=admit,
    )
    return {
        "added": len(result.added),
        "updated": len(result.updated),
        "removed": len(result.removed),
        "claimed": len(result.claimed),
        "withdrawn": len(result.withdrawn),
    }


def _load(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise DataError(f"{where} is not a bundle (not JSON: {reason})") from exc


def _decode(value: object, where: str, field: str) -> bytes:
    if not isinstance(value, str):
        raise DataError(f"{where}: the {field} is not a base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataError(f"{where}: the {field} is not valid base64") from exc


def _integer(body: dict[str, Any], field: str, where: str) -> int:
    value = body.get(field)
    if type(value) is not int or not 0 <= value <= _MAX_SEQUENCE:
        raise DataError(f"{where}: {field} is not a sequence number ({_shown(value)})")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_body(body: dict[str, Any], where: str) -> _Body:
    """The signed body, every field checked for its type: a DataError names the first that
    is not as it should be."""
    origin = body.get("origin")
    try:
        if not isinstance(origin, str) or str(uuid.UUID(origin)) != origin:
            raise ValueError
    except ValueError:
        raise DataError(f"{where}: origin is not a bank id ({_shown(origin)})") from None
    since, sequence = _integer(body, "since", where), _integer(body, "sequence", where)
    if since > sequence:
        raise DataError(f"{where}: since ({since}) is after sequence ({sequence})")
    upserts, removals = body.get("upserts"), body.get("removals")
    if not isinstance(upserts, list) or not isinstance(removals, list):
        raise DataError(f"{where}: upserts and removals must be lists")
    return _Body(
        origin,
        since,
        sequence,
        [_new_entry(u, f"{where} upsert {n}") for n, u in enumerate(upserts, 1)],
        [_signals(r, f"{where} removal {n}") for n, r in enumerate(removals, 1)],
    )


def _signals(raw: object, where: str) -> list[Signal]:
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: signals must be a non-empty list of [kind, value] pairs")
    found = []
    for pair in raw:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) and "\x00" not in p for p in pair)
        ):
            raise DataError(f"{where}: {_shown(pair)} is not a [kind, value] pair of texts")
        found.append(signal_or_error(pair[0], pair[1], where))
    return found


def _text(raw: dict[str, Any], field: str, where: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise DataError(f"{where}: {field} is not a text ({_shown(value)})")
    return value


def _new_entry(raw: object, where: str) -> NewEntry:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: not an entry object ({_shown(raw)})")
    category = raw.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise DataError(f"{where}: {_shown(category)} is not a category")
    victim = raw.get("victim_identified")
    if victim is not None and not isinstance(victim, bool):
        raise DataError(f"{where}: victim_identified is not true or false ({_shown(victim)})")
    extra = raw.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise DataError(f"{where}: extra is not an object ({_shown(extra)})")
    return NewEntry(
        _signals(raw.get("signals"), where),
        category,
        _text(raw, "series", where),
        bool(victim),
        _text(raw, "source", where),
        _text(raw, "first_seen", where),
        _text(raw, "note", where),
        dict(extra or {}),
    )
