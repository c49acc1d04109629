"""Node-to-node sync: a bank publishes signed bundles into a folder any web server can serve;
another bank pulls them in order over HTTP.

The folder holds one bundle per publish and `index.json` listing them in order with their
SHA-256. A pull downloads each bundle it has not applied yet, checks its digest and applies
it (`apply_bundle`: signature, trust, binding, order, all or nothing). A connection lost midway
stops with an error after the bundles already applied; the next pull resumes from there.
Pulling again when nothing is new changes nothing.

A peer's server is not trusted to behave: every body is read as a stream up to a size cap
(index and bundle apart) and within an overall deadline per download, the bundles must be
signed by the very key the pull names, and that key becomes trusted only once one of its
bundles has verified and applied.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hashwarden.bank.protocols import BankStore
from hashwarden.errors import (
    ConflictError,
    DataError,
    ExchangeUnavailableError,
    IntegrityError,
    LimitExceededError,
)
from hashwarden.exchange.bundle import apply_bundle, build_bundle, read_public_key

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BUNDLE_BYTES",
    "DEFAULT_MAX_INDEX_BYTES",
    "publish",
    "pull",
]

INDEX = "index.json"
#: Largest bundle a pull accepts (`--max-bundle-bytes`): about 800,000 entries.
DEFAULT_MAX_BUNDLE_BYTES = 256 * 2**20
#: Largest index a pull accepts (`--max-index-bytes`): about 100,000 bundles.
DEFAULT_MAX_INDEX_BYTES = 16 * 2**20
#: Seconds one download (the index, or one bundle) may take in all (`--deadline`).
DEFAULT_DEADLINE = 600.0
_FILE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,200}\.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.exists():
        return {"format": "hashwarden-sync", "origin": None, "bundles": []}
    try:
        index: dict[str, Any] = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path} is not a sync index ({exc})") from exc
    return index


def publish(
    bank: BankStore, key_path: Path, folder: Path, *, include_file_names: bool = False
) -> Path | None:
    """Write the bank's changes since the last publish as a new bundle; None when none.
    File names and other personal fields stay home unless `include_file_names`."""
    folder.mkdir(parents=True, exist_ok=True)
    index = _read_index(folder)
    if index["origin"] not in (None, bank.bank_id):
        raise DataError(f"{folder} publishes another bank ({index['origin']})")
    since = index["bundles"][-1]["sequence"] if index["bundles"] else 0
    bundle = build_bundle(
        bank, since=since, key_path=key_path, include_file_names=include_file_names
    )
    body = bundle["body"]
    if not body["upserts"] and not body["removals"]:
        return None  # nothing of its own changed (what it received is its peers' to publish)
    data = json.dumps(bundle, ensure_ascii=False).encode()
    name = f"{since:010d}-{body['sequence']:010d}.json"
    (folder / name).write_bytes(data)
    index["origin"] = bank.bank_id
    index["bundles"].append(
        {
            "file": name,
            "since": since,
            "sequence": body["sequence"],
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    )
    staging = folder / f".{INDEX}.new"
    staging.write_text(json.dumps(index, indent=1))
    staging.replace(folder / INDEX)
    return folder / name


@dataclass
class _Listed:
    file: str
    sequence: int
    sha256: str


def _parse_index(data: bytes, url: str) -> tuple[str, list[_Listed]]:
    """The origin and the bundles a peer's index lists, each field checked."""
    try:
        index = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{url} is not a sync index (not JSON)") from exc
    if not isinstance(index, dict) or not isinstance(index.get("bundles"), list):
        raise DataError(f"{url} is not a sync index (no list of bundles)")
    origin, listed = index.get("origin"), []
    for n, item in enumerate(index["bundles"], 1):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("file"), str)
            and _FILE.fullmatch(item["file"])
            and type(item.get("sequence")) is int
            and isinstance(item.get("sha256"), str)
            and _SHA256.fullmatch(item["sha256"])
        ):
            raise DataError(f"{url} is not a sync index (bundle {n} is malformed)")
        listed.append(_Listed(item["file"], item["sequence"], item["sha256"]))
    if listed and not isinstance(origin, str):
        raise DataError(f"{url} is not a sync index (no origin)")
    return str(origin), listed


def _download(
    client: httpx.Client,
    url: str,
    *,
    cap: int,
    flag: str,
    deadline: float,
    timeout: float,
    applied: int,
) -> bytes:
    """The body at `url`, streamed: refused past `cap` bytes or `deadline` seconds."""
    done = f"{applied} bundle(s) applied"
    started = time.monotonic()
    chunks: list[bytes] = []
    size = 0
    try:
        with client.stream("GET", url, timeout=min(timeout, deadline)) as response:
            if response.status_code != 200:
                raise ExchangeUnavailableError(
                    f"sync from {url} failed (HTTP {response.status_code}); {done}, "
                    "run again to resume"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise LimitExceededError(
                    f"{url} is {int(declared)} bytes, over the limit of {cap} ({flag}); {done}"
                )
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise LimitExceededError(
                        f"{url} is over the limit of {cap} bytes ({flag}); {done}"
                    )
                if time.monotonic() - started > deadline:
                    raise LimitExceededError(
                        f"{url} did not arrive within the deadline of {deadline:g} s "
                        f"(--deadline; {size} bytes came); {done}"
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ExchangeUnavailableError(
            f"sync from {url} failed ({exc}); {done}, run again to resume"
        ) from exc
    return b"".join(chunks)


def pull(
    bank: BankStore,
    url: str,
    public_key: Path,
    *,
    on_bundle: Callable[[str, dict[str, int]], None] | None = None,
    timeout: float = 30.0,
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
    max_index_bytes: int = DEFAULT_MAX_INDEX_BYTES,
    deadline: float = DEFAULT_DEADLINE,
) -> int:
    """Apply every bundle at `url` this bank has not applied; returns how many were applied.

    Every bundle must be signed by `public_key` (pinned, even when the bank trusts other
    keys); a key the bank does not trust yet becomes trusted with the first bundle that
    verifies and applies, never by a pull that fails before. `timeout` bounds each network
    wait, `deadline` each download in all."""
    name, key = read_public_key(public_key)
    trusted = bank.trust.key(key)
    if trusted is None and any(row[0] == name for row in bank.trust.all_keys()):
        raise ConflictError(
            f"{public_key} is named {name!r}, but another key is trusted under that name"
        )
    if trusted is not None and trusted[1]:
        raise IntegrityError(f"key {trusted[0]!r} ({public_key}) was revoked on {trusted[1]}")
    actor = f"sync:{trusted[0] if trusted else name}"
    base = url.rstrip("/")
    applied = 0
    limits: dict[str, Any] = {"deadline": deadline, "timeout": timeout}
    with httpx.Client(follow_redirects=False, headers={"Accept-Encoding": "identity"}) as client:
        index_url = f"{base}/{INDEX}"
        data = _download(
            client, index_url, cap=max_index_bytes, flag="--max-index-bytes", applied=0, **limits
        )
        origin, listed = _parse_index(data, index_url)
        last = bank.trust.bundle_sequence(origin)
        for item in listed:
            if item.sequence <= last:
                continue
            bundle_url = f"{base}/{item.file}"
            data = _download(
                client,
                bundle_url,
                cap=max_bundle_bytes,
                flag="--max-bundle-bytes",
                applied=applied,
                **limits,
            )
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise ExchangeUnavailableError(
                    f"{bundle_url} arrived incomplete or altered (digest differs); "
                    f"{applied} bundle(s) applied, run the pull again to resume"
                )
            counts = apply_bundle(bank, data, bundle_url, actor=actor, pinned=(name, key))
            applied += 1
            last = item.sequence
            if on_bundle is not None:
                on_bundle(item.file, counts)
    return applied
