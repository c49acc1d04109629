"""Reading and writing the hash-list formats agencies exchange."""

from hashwarden.exchange.plain import read_plain, write_plain

__all__ = ["read_plain", "write_plain"]
