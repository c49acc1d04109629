"""The match service: an HTTP API platforms put in front of their uploads."""

from hashwarden.service.app import ServiceSettings, create_app

__all__ = ["ServiceSettings", "create_app"]
