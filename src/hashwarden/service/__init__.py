"""The match service: an HTTP API platforms put in front of their uploads."""

from hashwarden.service.app import create_app
from hashwarden.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
