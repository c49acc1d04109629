"""The app for `uvicorn --factory hashwarden.service.asgi:app_from_env`: how each of several
worker processes builds its own app (its own bank connection and index) from the environment
`hashwarden serve` sets."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from hashwarden.bank import open_bank
from hashwarden.service.app import ServiceSettings, create_app

__all__ = ["app_from_env"]


def app_from_env() -> FastAPI:
    """One JSON line a request on standard error (see `app.observe`), then the app."""
    log = logging.getLogger("hashwarden.service")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return create_app(ServiceSettings.from_env(), open_bank(os.environ["HASHWARDEN_BANK"]))
