"""Options several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from hashwarden.errors import UsageError
from hashwarden.signals import Signal, default_registry
from hashwarden.signals.hashing import PDQ_MODES

__all__ = [
    "Md5Opt",
    "PdqModeOpt",
    "PdqOpt",
    "Sha1Opt",
    "Sha256Opt",
    "VictimOpt",
    "WorkersOpt",
    "check_pdq_mode",
    "signals_given",
]

Md5Opt = Annotated[str | None, typer.Option(help="MD5 value.")]
Sha1Opt = Annotated[str | None, typer.Option(help="SHA-1 value.")]
Sha256Opt = Annotated[str | None, typer.Option(help="SHA-256 value.")]
PdqOpt = Annotated[str | None, typer.Option(help="PDQ value (64 hex digits).")]
VictimOpt = Annotated[bool, typer.Option(help="The victim has been identified.")]
PdqModeOpt = Annotated[
    str,
    typer.Option(
        "--pdq-mode",
        help="fast (default: reduced decoding, within a measured bound of the reference) or "
        "reference (bit-exact with the reference PDQ).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Hashing processes (default: one per core; none for a few files)."),
]


def check_pdq_mode(mode: str) -> str:
    if mode not in PDQ_MODES:
        raise UsageError(f"--pdq-mode must be one of {', '.join(PDQ_MODES)}, not {mode!r}")
    return mode


def signals_given(**values: str | None) -> list[Signal]:
    """Validated signals for the hash options that were given; at least one must be."""
    registry = default_registry()
    signals = [registry.signal(kind, value) for kind, value in values.items() if value]
    if not signals:
        raise UsageError(f"give at least one of {', '.join('--' + k for k in values)}")
    return signals
