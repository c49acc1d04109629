"""The hashed block list: how a list leaves the curator, and the fast look-up on the ISP's side.

Distribution file (`export --format hashed`), JSON:

    {"body": {"format": "hashwarden-blocklist", "version": 1, "list": "<uuid>",
              "base": 0, "serial": 42, "created": "...Z",
              "add": [["<sha256 hex>", "domain", "<reason>", "<expires or null>",
                       "<host key hex>"], ...],
              "remove": ["<sha256 hex>", ...]},
     "key": "<base64 Ed25519 public key>", "signature": "<base64 over the canonical body>"}

(the envelope of hashwarden.signing, its canonical JSON ASCII-only.)

`base` 0 is a full list; otherwise the file is a delta that applies only to a copy at exactly
version `base` and brings it to `serial`. Each digest is SHA-256 of the canonical expression's
UTF-8 bytes (the full 32 bytes; no prefix scheme). The host key is the first 8 bytes of
SHA-256 of the entry's host: a look-up hashes a URL's host names first and hashes its
host/path pairs only for a host that has entries, which keeps misses cheap. (It shows which
hashed entries share a host, nothing more.) No expression, source or comment leaves.

The receiving side keeps an *applied list* (`apply_update`): see `hashwarden.blocking.applied`
for its binary, memory-mapped form and the `Matcher` that answers a URL or a DNS name by
hashing the candidate expressions Safe Browsing derives from it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwarden.blocking.applied import AppliedList, Record
from hashwarden.blocking.canonical import host_key
from hashwarden.blocking.store import BlockList
from hashwarden.errors import ConflictError, DataError, IntegrityError, UsageError
from hashwarden.signing import (
    canonical_json,
    read_private_key,
    read_public_key,
    sign_envelope,
    verify_signature,
)

__all__ = ["FORMAT", "apply_update", "build_update"]

FORMAT = "hashwarden-blocklist"
_VERSION = 1


def build_update(store: BlockList, key_path: Path, *, since: int = 0) -> dict[str, Any]:
    """A signed full list (`since` 0) or the delta after version `since`."""
    key = read_private_key(key_path)
    store.expire()
    serial = store.version
    if since == 0:
        add = [
            [e.digest.hex(), e.kind, e.reason, e.expires, host_key(e.expression).hex()]
            for e in store.entries()
        ]
        add.sort()
        remove: list[str] = []
    else:
        state: dict[bytes, list[Any] | None] = {}
        for change in store.changes(since):
            state[change.digest] = (
                [
                    change.digest.hex(),
                    change.kind,
                    change.reason,
                    change.expires,
                    host_key(change.expression).hex(),
                ]
                if change.op == "add"
                else None
            )
        add = sorted(v for v in state.values() if v is not None)
        remove = sorted(d.hex() for d, v in state.items() if v is None)
    body = {
        "format": FORMAT,
        "version": _VERSION,
        "list": store.list_id,
        "base": since,
        "serial": serial,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "add": add,
        "remove": remove,
    }
    return sign_envelope(body, key, ascii_only=True)


def _verified_body(document: Any, trusted_key: str, where: str) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("body"), dict):
        raise DataError(f"{where} is not a hashwarden block list update")
    body = document["body"]
    if body.get("format") != FORMAT or body.get("version") != _VERSION:
        raise DataError(f"{where} is not a {FORMAT} version {_VERSION} file")
    if document.get("key") != trusted_key:
        raise IntegrityError(f"{where} is signed by a key this list does not trust")
    try:
        signature = base64.b64decode(str(document.get("signature")))
        verified = verify_signature(
            base64.b64decode(trusted_key), signature, canonical_json(body, ascii_only=True)
        )
    except ValueError:  # not base64
        verified = False
    if not verified:
        raise IntegrityError(f"{where}: the signature does not verify (tampered?)")
    return body


def apply_update(state_path: Path, update_path: Path, *, trust: Path | None = None) -> AppliedList:
    """Verify `update_path` and apply it to the applied list at `state_path` (created from a
    full list when missing, trusting the key file `trust`). Deltas must continue exactly where
    the copy stands: an older one is a replay, a later one leaves a gap (ConflictError)."""
    state = AppliedList.load(state_path) if state_path.exists() else None
    if state is None and trust is None:
        raise UsageError(f"{state_path} does not exist yet: give --trust KEY.pub for a first list")
    trusted = read_public_key(trust)[1] if trust is not None else state.key  # type: ignore[union-attr]
    if state is not None and trust is not None and trusted != state.key:
        raise IntegrityError(f"{state_path} trusts another key; refusing to switch silently")
    try:
        document = json.loads(update_path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{update_path} is not JSON ({exc})") from exc
    body = _verified_body(document, trusted, str(update_path))
    base, serial = int(body["base"]), int(body["serial"])
    if state is None or base == 0:
        if base != 0:
            raise ConflictError(f"{update_path} is a delta from {base}; apply a full list first")
        if state is not None and state.list_id == body["list"] and serial <= state.serial:
            raise ConflictError(f"{update_path} is version {serial}; the copy has {state.serial}")
        state = AppliedList(body["list"], trusted, 0, {})
    elif body["list"] != state.list_id:
        raise ConflictError(f"{update_path} belongs to another list")
    elif base != state.serial:
        what = "a replay" if base < state.serial else "out of order"
        raise ConflictError(
            f"{update_path} applies to version {base}, the copy is at {state.serial} ({what})"
        )
    try:
        removed = [bytes.fromhex(h) for h in body["remove"]]
        added = {
            bytes.fromhex(h): Record(kind, reason, expires, bytes.fromhex(host))
            for h, kind, reason, expires, host in body["add"]
        }
        texts = [(r.kind, r.reason, r.expires) for r in added.values()]
        if not all(
            isinstance(k, str) and all(isinstance(t, str | None) for t in rest)
            for k, *rest in texts
        ):
            raise TypeError("kind, reason and expiry must be text")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{update_path}: malformed record ({exc})") from exc
    state_path.parent.mkdir(parents=True, exist_ok=True)
    AppliedList(state.list_id, state.key, serial, state.records).save(
        state_path, remove=removed, add=added
    )
    return AppliedList.load(state_path)
