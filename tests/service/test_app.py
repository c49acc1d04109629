"""The match service core: upload and hash matching, limits, nothing stored."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from hashwarden.bank import SqliteBank
from hashwarden.bank.base import NewEntry
from hashwarden.bank.categories import parse_category
from hashwarden.service import ServiceSettings, create_app
from hashwarden.signals.base import Signal
from hashwarden.signals.hashing import hash_bytes
from hashwarden.synthetic import png_bytes, synthetic_photo


def _png(seed: int) -> bytes:
    return png_bytes(synthetic_photo(seed, 320, 240))


def test_upload_and_hash_match(bank: SqliteBank, tmp_path: Path) -> None:
    image = _png(1)
    known = hash_bytes(image)
    assert known.pdq is not None
    bank.add_entry(NewEntry([Signal("pdq", known.pdq)], category=parse_category("A")))
    client = TestClient(create_app(ServiceSettings(), bank))

    up = client.post("/v1/match/upload", content=image)
    assert up.status_code == 200
    body = up.json()
    assert body["hashes"]["sha256"] == known.sha256
    assert [m["distance"] for m in body["matches"]] == [0]

    miss = client.post("/v1/match/upload", content=_png(2)).json()
    assert miss["matches"] == []

    by_hash = client.post("/v1/match/hashes", json={"signals": {"pdq": known.pdq}}).json()
    assert by_hash["matches"][0]["category"] == bank.entries_by_id([1])[1].category


def test_entry_added_later_is_matched(bank: SqliteBank) -> None:
    image = _png(3)
    client = TestClient(create_app(ServiceSettings(), bank))
    assert client.post("/v1/match/upload", content=image).json()["matches"] == []
    pdq = hash_bytes(image).pdq
    assert pdq is not None
    bank.add_entry(NewEntry([Signal("pdq", pdq)]))
    assert len(client.post("/v1/match/upload", content=image).json()["matches"]) == 1


def test_upload_over_limit_is_413(bank: SqliteBank) -> None:
    client = TestClient(create_app(ServiceSettings(max_upload_bytes=100), bank))
    assert client.post("/v1/match/upload", content=b"x" * 101).status_code == 413


def test_no_uploaded_byte_persisted(bank: SqliteBank, tmp_path: Path) -> None:
    marker = b"HWMARKER-7d1f0c"
    client = TestClient(create_app(ServiceSettings(), bank))
    client.post("/v1/match/upload", content=marker * 1000)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), path


def test_serve_command_is_registered(cli_runner: object) -> None:
    from typer.testing import CliRunner

    from hashwarden.cli import app

    assert isinstance(cli_runner, CliRunner)
    result = cli_runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--bank" in result.output
