"""A service app over a temporary bank, with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import SqliteBank, create_bank
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import ROLES, create_key
from hashwarden.synthetic import png_bytes, synthetic_photo


def png(seed: int) -> bytes:
    return png_bytes(synthetic_photo(seed, 320, 240))


@pytest.fixture(params=["sqlite", "postgres"])
def bank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteBank]:
    """Every service test runs on a SQLite bank and on a real PostgreSQL server's."""
    if request.param == "postgres":
        location = request.getfixturevalue("pg_server").new_database()
    else:
        location = str(tmp_path / "bank.db")
    with create_bank(location) as b:
        yield b


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def service(bank: SqliteBank) -> Service:
    keys = {role: create_key(bank, f"{role}-key", role) for role in ROLES}
    return Service(TestClient(create_app(ServiceSettings(), bank)), keys)
