"""One signing module for bundles and block lists, byte for byte what each format always was.

The expected envelopes below were made by the code before the signing module existed (Ed25519
signatures are deterministic), so a change to the canonical JSON or the envelope fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashwarden.blocking import apply_update
from hashwarden.errors import ConflictError, DataError, IntegrityError
from hashwarden.exchange.bundle import sign_body
from hashwarden.signing import (
    canonical_json,
    generate_keys,
    read_private_key,
    read_public_key,
    sign_envelope,
)

#: Ed25519 private key bytes 0..31, PKCS#8 PEM (a test key, never used for anything real).
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n"
    "-----END PRIVATE KEY-----\n"
)
PUBLIC = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
BODY = {"format": "x", "note": "Malmö – ü", "n": [3, 1, {"b": 1, "a": None}], "z": True}
BUNDLE_SIGNATURE = (
    "ae4JOxhLkFv3JZNlOuwU56ixdmRZbny5EPfJWMRtX1Lb+OJ4SzNgL7xP0fd2CGLpM3w5gapPJ92LNX5B02iqAw=="
)
BLOCKLIST_SIGNATURE = (
    "47MPK/l6440cWcKnmL+pUbO8j1CiYzLYRnnrBTHosra1+QPDCKjFPjtLaLHluEMUfgPKd/kBJvIUnLeOM55ABg=="
)
#: A full block list as the curator's side wrote it before the signing module.
BLOCKLIST = (
    '{"body": {"format": "hashwarden-blocklist", "version": 1, "list": '
    '"6f1c1d3e-0000-4000-8000-000000000001", "base": 0, "serial": 1, "created": '
    '"2025-01-01T00:00:00Z", "add": [["d2ef0a8506d7f358357d88b05061ca74e96ad5746ce3b2b3b611ac2a7de'
    '418d2", "domain", "Grund: ü", null, "1f30273176bf4342"]], "remove": []}, "key": '
    '"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", "signature": "UNapQo5St0NvSohWtOBHQncR0vwmjM6'
    'jm/Of2QsbOOGn6SLId15uPWgkhxXAhwKe/PRB1XLwYo2jH2mh2ZaSBA=="}'
)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "curator.key"
    path.write_text(PEM)
    return path


def test_bundles_and_block_lists_are_signed_as_before(key_file: Path) -> None:
    key = read_private_key(key_file)
    assert sign_body(dict(BODY), key_file) == {
        "body": BODY,
        "key": PUBLIC,
        "signature": BUNDLE_SIGNATURE,
    }
    assert sign_envelope(dict(BODY), key, ascii_only=True)["signature"] == BLOCKLIST_SIGNATURE
    assert canonical_json(BODY) == json.dumps(
        BODY, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert b"\\u00f6" in canonical_json(BODY, ascii_only=True)


def test_a_block_list_signed_before_still_applies(tmp_path: Path) -> None:
    (tmp_path / "curator.pub").write_text(f"ed25519 {PUBLIC} curator\n")
    (tmp_path / "full.json").write_text(BLOCKLIST, encoding="utf-8")
    applied = apply_update(
        tmp_path / "applied.json", tmp_path / "full.json", trust=tmp_path / "curator.pub"
    )
    assert applied.serial == 1 and applied.matcher().check_name("www.blocked.example")
    tampered = BLOCKLIST.replace('"serial": 1', '"serial": 2')
    (tmp_path / "tampered.json").write_text(tampered, encoding="utf-8")
    with pytest.raises(IntegrityError, match="does not verify"):
        apply_update(tmp_path / "applied.json", tmp_path / "tampered.json")
    with pytest.raises(ConflictError):  # the same version again: a replay
        apply_update(tmp_path / "applied.json", tmp_path / "full.json")


def test_key_files_round_trip_and_refuse_overwriting(tmp_path: Path) -> None:
    private, public = generate_keys("hotline", tmp_path)
    assert private.stat().st_mode & 0o777 == 0o600
    name, encoded = read_public_key(public)
    assert name == "hotline" and public.read_text().startswith("ed25519 ")
    assert sign_envelope({"a": 1}, read_private_key(private))["key"] == encoded
    with pytest.raises(ConflictError):
        generate_keys("hotline", tmp_path)
    with pytest.raises(DataError):
        read_private_key(public)
    with pytest.raises(DataError):
        read_public_key(private)
