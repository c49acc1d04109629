"""Reading and writing the hash-list formats agencies exchange."""

from hashwarden.errors import UsageError
from hashwarden.exchange.base import (
    Exported,
    Format,
    ImportOptions,
    check_category_map,
    export_entries,
)
from hashwarden.exchange.bloom import BloomFilter, BloomFormat, write_bloom
from hashwarden.exchange.nsrl import read_nsrl
from hashwarden.exchange.plain import read_plain, write_plain
from hashwarden.exchange.tabular import CsvFormat, HmaFormat, IcseFormat, PlainFormat
from hashwarden.exchange.vics import VicsFormat

__all__ = [
    "FORMATS",
    "BloomFilter",
    "BloomFormat",
    "Exported",
    "Format",
    "ImportOptions",
    "check_category_map",
    "export_entries",
    "get_format",
    "read_nsrl",
    "read_plain",
    "write_bloom",
    "write_plain",
]

FORMATS: dict[str, Format] = {
    f.name: f for f in (PlainFormat(), CsvFormat(), VicsFormat(), IcseFormat(), HmaFormat())
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join([*FORMATS, "nsrl (import only)", "bloom (export only)"])
        raise UsageError(f"unknown format {name!r} (known: {known})") from None
