"""A service app over a temporary bank, with one key per role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import ROLES, create_key
from hashwarden.synthetic import png_bytes, synthetic_photo


def png(seed: int) -> bytes:
    return png_bytes(synthetic_photo(seed, 320, 240))


@pytest.fixture
def bank(any_bank: Bank) -> Bank:
    """Every service test runs on a SQLite bank and on a real PostgreSQL server's."""
    return any_bank


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def service(bank: Bank) -> Service:
    keys = {role: create_key(bank, f"{role}-key", role) for role in ROLES}
    return Service(TestClient(create_app(ServiceSettings(), bank)), keys)
