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

The receiving side keeps an *applied list* (`apply`): a JSON file with the list id, the key it
trusts, its version and the records; `Matcher` loads its digests into a set of bytes and answers
a URL or a DNS name by hashing the candidate expressions Safe Browsing derives from it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashwarden.blocking.canonical import (
    HOST_KEY_BYTES,
    MAX_HOST_LABELS,
    CanonicalUrl,
    canonicalize,
    digest,
    host_key,
    host_suffixes,
    path_prefixes,
)
from hashwarden.blocking.store import BlockList
from hashwarden.errors import ConflictError, DataError, IntegrityError, UsageError
from hashwarden.signing import (
    canonical_json,
    read_private_key,
    read_public_key,
    sign_envelope,
    verify_signature,
)

__all__ = [
    "FORMAT",
    "AppliedList",
    "Hit",
    "Matcher",
    "apply_update",
    "build_update",
]

FORMAT = "hashwarden-blocklist"
STATE_FORMAT = "hashwarden-blocklist-applied"
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


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    reason: str | None
    expires: str | None
    host: bytes


@dataclass
class AppliedList:
    """The receiving side's copy: digests and their records, at one version of one list."""

    list_id: str | None
    key: str
    serial: int
    records: dict[bytes, Record]

    @classmethod
    def load(cls, path: Path) -> AppliedList:
        try:
            doc = json.loads(path.read_bytes())
            if doc.get("format") != STATE_FORMAT:
                raise ValueError("not an applied block list")
            records = {
                bytes.fromhex(h): Record(kind, reason, expires, bytes.fromhex(host))
                for h, kind, reason, expires, host in doc["records"]
            }
            return cls(doc["list"], doc["key"], int(doc["serial"]), records)
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path} is not an applied hashwarden block list ({exc})") from exc

    def save(self, path: Path) -> None:
        """Write atomically (a resolver may be reading the old file meanwhile)."""
        doc = {
            "format": STATE_FORMAT,
            "list": self.list_id,
            "key": self.key,
            "serial": self.serial,
            "records": sorted(
                [d.hex(), r.kind, r.reason, r.expires, r.host.hex()]
                for d, r in self.records.items()
            ),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".blocklist-")
        with os.fdopen(fd, "w") as out:
            json.dump(doc, out, separators=(",", ":"))
        os.replace(tmp, path)

    def matcher(self) -> Matcher:
        """A matcher over the records that have not expired."""
        today = datetime.now(UTC).date().isoformat()
        live = [
            (d, r.host) for d, r in self.records.items() if r.expires is None or r.expires > today
        ]
        return Matcher({d for d, _ in live}, {h for _, h in live})


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
    state: AppliedList | None = AppliedList.load(state_path) if state_path.exists() else None
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
        for h in body["remove"]:
            state.records.pop(bytes.fromhex(h), None)
        for h, kind, reason, expires, host in body["add"]:
            state.records[bytes.fromhex(h)] = Record(kind, reason, expires, bytes.fromhex(host))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{update_path}: malformed record ({exc})") from exc
    state.serial = serial
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state.save(state_path)
    return state


@dataclass(frozen=True, slots=True)
class Hit:
    """Which candidate expression matched (derived from the query, never stored)."""

    expression: str
    digest: bytes


class Matcher:
    """Answers "is this URL / name blocked?" from SHA-256 digests and host keys.

    A miss costs one SHA-256 per host name of the URL (its host and parent domains); only a
    host with entries has its host/path expressions hashed and looked up."""

    def __init__(self, digests: set[bytes], hosts: set[bytes]) -> None:
        self.digests = digests
        self.hosts = hosts

    @classmethod
    def from_file(cls, path: Path) -> Matcher:
        return AppliedList.load(path).matcher()

    @classmethod
    def from_expressions(cls, expressions: list[str]) -> Matcher:
        return cls({digest(e) for e in expressions}, {host_key(e) for e in expressions})

    def __len__(self) -> int:
        return len(self.digests)

    def check_url(self, url: str | bytes | CanonicalUrl) -> Hit | None:
        """The first matching expression of `url` (exact host first), or None."""
        digests, hosts, sha256 = self.digests, self.hosts, hashlib.sha256
        canonical = url if isinstance(url, CanonicalUrl) else canonicalize(url)
        paths: list[str] | None = None
        for host in host_suffixes(canonical):
            if sha256(host.encode()).digest()[:HOST_KEY_BYTES] not in hosts:
                continue
            if paths is None:
                paths = path_prefixes(canonical)
            for path in paths:
                expression = host + path
                d = sha256(expression.encode()).digest()
                if d in digests:
                    return Hit(expression, d)
        return None

    def check_name(self, name: str) -> Hit | None:
        """Whether a DNS name falls under a domain entry (the name or one of its parents)."""
        digests, hosts, sha256 = self.digests, self.hosts, hashlib.sha256
        labels = name.lower().rstrip(".").split(".")
        for n in range(len(labels), 1, -1):
            if n > MAX_HOST_LABELS and n != len(labels):
                continue
            host = ".".join(labels[-n:])
            if sha256(host.encode()).digest()[:HOST_KEY_BYTES] in hosts:
                expression = host + "/"
                d = sha256(expression.encode()).digest()
                if d in digests:
                    return Hit(expression, d)
        return None
