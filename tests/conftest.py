"""Shared fixtures: a temporary bank, the conformance folder, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import SqliteBank

from ._postgres import ThrowawayPostgres

#: The reference subset kept in the repository; HASHWARDEN_CONFORMANCE names a fuller set laid
#: out the same way (the full reference set) to run the conformance tests over all of it.
CONFORMANCE = Path(
    os.environ.get("HASHWARDEN_CONFORMANCE") or Path(__file__).parent / "data" / "conformance"
)


@pytest.fixture
def conformance() -> Path:
    if not (CONFORMANCE / "pdq" / "expected.csv").is_file():
        pytest.fail(f"conformance data not found at {CONFORMANCE}")
    return CONFORMANCE


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[SqliteBank]:
    with SqliteBank.create(tmp_path / "bank.db") as b:
        yield b


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    """A real PostgreSQL server on loopback for the whole session."""
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
