"""Schemathesis drives every operation of the OpenAPI description with generated requests, as
an admin (so nothing stops at 403): no request may produce a server error (5xx)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hashwarden.bank import create_bank
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = pytest.mark.slow

# Built at import, as schemathesis parametrizes by the schema's operations at collection.
_folder = Path(tempfile.mkdtemp(prefix="hashwarden-schemathesis-"))
atexit.register(shutil.rmtree, _folder, True)
_bank = create_bank(_folder / "bank.db")
_TOKEN = create_key(_bank, "fuzz", "admin")
_app = create_app(ServiceSettings(max_upload_bytes=1 << 20, request_timeout_s=5), _bank)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_TOKEN}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
