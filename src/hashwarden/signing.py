"""Ed25519 signing of what hashwarden hands to others: delta bundles and hashed block lists.

A signed document is an envelope around a JSON body:

    {"body": {...}, "key": "<base64 raw public key>", "signature": "<base64 over the body>"}

The signature covers the body's canonical JSON (keys sorted, no spaces); bundles keep non-ASCII
text as UTF-8, block lists escape it (`ascii_only`), as each format has always done. Key files:
NAME.key holds the private key (PKCS#8 PEM, mode 600), NAME.pub one line `ed25519 <base64> NAME`.

Imports only the standard library, `cryptography` and hashwarden's errors, so whatever verifies
a block list (a resolver's, a proxy's helper) loads nothing else.
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

from hashwarden.errors import ConflictError, DataError, UsageError

__all__ = [
    "canonical_json",
    "generate_keys",
    "read_private_key",
    "read_public_key",
    "sign_envelope",
    "verify_signature",
]


def canonical_json(body: dict[str, Any], *, ascii_only: bool = False) -> bytes:
    """The bytes a signature covers; ValueError for text JSON cannot encode (lone surrogates)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only).encode()


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
    public_path.write_text(f"ed25519 {_b64(_public_bytes(key))} {name}\n")
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


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_envelope(
    body: dict[str, Any], key: Ed25519PrivateKey, *, ascii_only: bool = False
) -> dict[str, Any]:
    """The envelope of `body`: the body, the signer's public key and its signature."""
    signature = key.sign(canonical_json(body, ascii_only=ascii_only))
    return {"body": body, "key": _b64(_public_bytes(key)), "signature": _b64(signature)}


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is the Ed25519 signature of `message` by the raw `public_key` (a key
    or signature of the wrong length does not verify)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
