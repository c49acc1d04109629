"""Node-to-node sync: a bank publishes signed bundles into a folder any web server can serve;
another bank pulls them in order over HTTP.

The folder holds one bundle per publish and `index.json` listing them in order with their
SHA-256. A pull downloads each bundle it has not applied yet, checks its digest and applies
it (`import_bundle`: signature, trust, order, all or nothing). A connection lost midway stops
with an error after the bundles already applied; the next pull resumes from there. Pulling
again when nothing is new changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hashwarden.bank.sqlite import SqliteBank
from hashwarden.errors import DataError, ExchangeUnavailableError
from hashwarden.exchange.bundle import add_trusted_key, build_bundle, import_bundle, read_public_key

__all__ = ["publish", "pull"]

INDEX = "index.json"


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX
    if not path.exists():
        return {"format": "hashwarden-sync", "origin": None, "bundles": []}
    try:
        index: dict[str, Any] = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path} is not a sync index ({exc})") from exc
    return index


def publish(bank: SqliteBank, key_path: Path, folder: Path) -> Path | None:
    """Write the bank's changes since the last publish as a new bundle; None when none."""
    folder.mkdir(parents=True, exist_ok=True)
    index = _read_index(folder)
    if index["origin"] not in (None, bank.bank_id):
        raise DataError(f"{folder} publishes another bank ({index['origin']})")
    since = index["bundles"][-1]["sequence"] if index["bundles"] else 0
    bundle = build_bundle(bank, since=since, key_path=key_path)
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


def pull(
    bank: SqliteBank,
    url: str,
    public_key: Path,
    *,
    on_bundle: Callable[[str, dict[str, int]], None] | None = None,
    timeout: float = 30.0,
) -> int:
    """Apply every bundle at `url` this bank has not applied; returns how many were applied."""
    name, key = read_public_key(public_key)
    if bank.trusted_key(key) is None:
        add_trusted_key(bank, public_key)
    base = url.rstrip("/")
    applied = 0
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(f"{base}/{INDEX}")
            response.raise_for_status()
            index = response.json()
            origin = index.get("origin")
            last = bank.bundle_sequence(str(origin))
            for item in index.get("bundles", []):
                if int(item["sequence"]) <= last:
                    continue
                response = client.get(f"{base}/{item['file']}")
                response.raise_for_status()
                data = response.content
                if hashlib.sha256(data).hexdigest() != item["sha256"]:
                    raise ExchangeUnavailableError(
                        f"{item['file']} arrived incomplete or altered (digest differs); "
                        f"{applied} bundle(s) applied, run the pull again to resume"
                    )
                with tempfile.NamedTemporaryFile(suffix=".json") as temporary:
                    temporary.write(data)
                    temporary.flush()
                    counts = import_bundle(bank, Path(temporary.name), actor=f"sync:{name}")
                applied += 1
                last = int(item["sequence"])
                if on_bundle is not None:
                    on_bundle(item["file"], counts)
    except httpx.HTTPError as exc:
        raise ExchangeUnavailableError(
            f"sync from {base} failed ({exc}); {applied} bundle(s) applied, run again to resume"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{base}/{INDEX} is not a sync index ({exc})") from exc
    return applied
