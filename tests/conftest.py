"""Shared fixtures: a temporary bank (SQLite, or on both engines: `any_bank`), the conformance
folder, a CLI runner, a throwaway PostgreSQL server."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank, create_bank

from ._postgres import ThrowawayPostgres

#: The reference subset kept in the repository; HASHWARDEN_CONFORMANCE names a fuller set laid
#: out the same way (the full reference set) to run the conformance tests over all of it.
CONFORMANCE = Path(
    os.environ.get("HASHWARDEN_CONFORMANCE") or Path(__file__).parent / "data" / "conformance"
)


#: Fixtures that start a real server (PostgreSQL, Unbound); tests using one are `slow`.
REAL_SERVER_FIXTURES = {"pg_server", "unbound_bin"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as `slow` every test that runs against a real server, so `make test-fast` skips them:
    those on the PostgreSQL engine and those using a real-server fixture (modules that start
    their own servers mark themselves with `pytestmark`)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and "postgres" in callspec.params.values()
        fixtures = set(getattr(item, "fixturenames", ()))
        if on_postgres or fixtures & REAL_SERVER_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def conformance() -> Path:
    if not (CONFORMANCE / "pdq" / "expected.csv").is_file():
        pytest.fail(f"conformance data not found at {CONFORMANCE}")
    return CONFORMANCE


#: The engines a bank runs on; tests of behaviour both must share run on each.
ENGINES = ["sqlite", "postgres"]


class BankLocations:
    """Where a test's banks live: new SQLite files, or new databases on the test server."""

    def __init__(self, engine: str, folder: Path, server: ThrowawayPostgres | None) -> None:
        self.engine, self._folder, self._server, self._n = engine, folder, server, 0

    def new_location(self) -> str:
        self._n += 1
        if self._server is not None:
            return self._server.new_database()
        return str(self._folder / f"bank{self._n}.db")

    def tamper(self, location: str, sql: str) -> None:
        """Change a bank behind hashwarden's back, as `sqlite3` or `psql` would."""
        if self._server is not None:
            import psycopg

            with psycopg.connect(location, autocommit=True) as conn:
                conn.execute(sql)
            return
        conn = sqlite3.connect(location)
        conn.execute(sql)
        conn.commit()
        conn.close()


@pytest.fixture(params=ENGINES)
def bank_locations(request: pytest.FixtureRequest, tmp_path: Path) -> BankLocations:
    """New bank locations, once on SQLite and once on the test PostgreSQL server."""
    server = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    return BankLocations(request.param, tmp_path, server)


@pytest.fixture
def any_bank(bank_locations: BankLocations) -> Iterator[Bank]:
    """A new bank, once on SQLite and once on PostgreSQL."""
    with create_bank(bank_locations.new_location()) as b:
        yield b


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    """A new SQLite bank (tests that must hold on both engines take `any_bank`)."""
    with create_bank(tmp_path / "bank.db") as b:
        yield b


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans keep case hashes by default; for a PostgreSQL bank in the user's data folder,
    which in tests is a temporary one, never the real home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
    monkeypatch.delenv("HASHWARDEN_CASES", raising=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    """A real PostgreSQL server on loopback for the whole session."""
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
