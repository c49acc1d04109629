"""Shared fixtures: a temporary bank, the conformance folder, a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import SqliteBank

from ._postgres import ThrowawayPostgres

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


@pytest.fixture
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
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
