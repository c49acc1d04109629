"""Options and conventions several commands share, declared once (docs/cli.md).

Light at import: the library modules these helpers need are imported when they are called.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from hashwarden.cli._app import notice
from hashwarden.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from hashwarden.bank import Bank
    from hashwarden.signals import Signal

__all__ = [
    "BANK_HELP",
    "BankArg",
    "JsonOpt",
    "Md5Opt",
    "OldBankOpt",
    "PdqModeOpt",
    "PdqOpt",
    "Sha1Opt",
    "Sha256Opt",
    "VictimOpt",
    "WorkersOpt",
    "bank_and_rest",
    "bank_given",
    "check_paths",
    "check_pdq_mode",
    "choose_format",
    "is_stdio",
    "keep_index_current",
    "open_bank_first",
    "output",
    "parse_listen",
    "signals_given",
    "where",
]

BANK_HELP = "The bank: a SQLite file, or a postgresql:// DSN."
#: The bank, always the first argument of a command that works on one.
BankArg = Annotated[str, typer.Argument(metavar="BANK", help=BANK_HELP, show_default=False)]
#: The old spelling of the bank, still accepted with a notice (docs/cli.md).
OldBankOpt = Annotated[str | None, typer.Option("--bank", hidden=True)]

Md5Opt = Annotated[str | None, typer.Option(metavar="HEX", help="MD5 value.")]
Sha1Opt = Annotated[str | None, typer.Option(metavar="HEX", help="SHA-1 value.")]
Sha256Opt = Annotated[str | None, typer.Option(metavar="HEX", help="SHA-256 value.")]
PdqOpt = Annotated[str | None, typer.Option(metavar="HEX", help="PDQ value (64 hex digits).")]
VictimOpt = Annotated[bool, typer.Option(help="The victim has been identified.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PdqModeOpt = Annotated[
    str,
    typer.Option(
        "--pdq-mode",
        metavar="MODE",
        help="fast (default: reduced decoding, within a measured bound of the reference) or "
        "reference (bit-exact with the reference PDQ).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        min=1, metavar="N", help="Hashing processes (default: one per core; none for a few files)."
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run the heavy part on this Dask scheduler (tcp://HOST:PORT); see docs/scale.md.",
    ),
]
CasesOpt = Annotated[
    Path | None,
    typer.Option(
        "--cases",
        metavar="DIR",
        help="The case store (default: $HASHWARDEN_CASES, else BANK.cases/ beside the bank).",
    ),
]

RetroOpt = Annotated[
    Path | None,
    typer.Option(
        "--retro",
        metavar="DIR",
        help="Then retro-hunt the stored cases against what was applied; report into DIR"
        " (docs/retro.md).",
    ),
]


def check_pdq_mode(mode: str) -> str:
    from hashwarden.signals.hashing import PDQ_MODES

    if mode.lower() not in PDQ_MODES:
        raise UsageError(f"--pdq-mode must be one of {', '.join(PDQ_MODES)}, not {mode!r}")
    return mode.lower()


def signals_given(**values: str | None) -> list[Signal]:
    """Validated signals for the hash options that were given; at least one must be. Built-in
    kinds are checked without the registry, whose plugins (found through the installed
    packages' entry points) would cost a `match` a good part of its start-up."""
    from hashwarden.signals.kinds import BUILTIN_KINDS

    builtin = {kind.name: kind for kind in BUILTIN_KINDS}

    def signal(kind: str, value: str) -> Signal:
        if kind in builtin:
            return builtin[kind].signal(value)
        from hashwarden.signals import default_registry

        return default_registry().signal(kind, value)

    signals = [signal(kind, value) for kind, value in values.items() if value]
    if not signals:
        raise UsageError(f"give at least one of {', '.join('--' + k for k in values)}")
    return signals


def _old_bank_notice(command: str, usage: str) -> None:
    notice(f"`--bank BANK` is the old spelling: write `hashwarden {command} BANK {usage}`")


def bank_given(command: str, bank: str | None, old: str | None, usage: str = "...") -> str:
    """The bank of a command whose only argument it is: first; `--bank` still works."""
    if old is not None:
        if bank is not None:
            raise UsageError("give the bank once: as the first argument (or the old --bank)")
        _old_bank_notice(command, usage)
        return old
    if bank is None:
        raise UsageError(f"give the bank first: hashwarden {command} BANK {usage}")
    return bank


def bank_and_rest(
    command: str, args: Sequence[str] | None, old: str | None, usage: str
) -> tuple[str, list[str]]:
    """(bank, other arguments) of a command that takes more arguments after the bank; with the
    old `--bank BANK`, every argument is one of the others."""
    given = list(args or [])
    if old is not None:
        _old_bank_notice(command, usage)
        return old, given
    if not given:
        raise UsageError(f"give the bank first: hashwarden {command} BANK {usage}")
    return given[0], given[1:]


def check_paths(paths: Iterable[Path]) -> list[Path]:
    """The paths, once each is known to exist (exit 4 naming the first that does not), before
    any work starts."""
    checked = list(paths)
    for path in checked:
        if not path.exists() and not path.is_symlink():
            raise NotFoundError(f"no such file or folder: {path}")
    return checked


def open_bank_first(location: str, *, readonly: bool = False) -> Bank:
    """Open the bank before any work (exit 4 when it is not there), so a mistyped bank is not
    found out only after hashing a case."""
    from hashwarden.bank import open_bank

    return open_bank(location, readonly=readonly)


def keep_index_current(bank: Bank) -> None:
    """Leave a bank a command changed ready to match at once: its saved index brought up to
    date (a separate `index build` is never needed)."""
    from hashwarden.index.saved import keep_index_current as bring_up_to_date

    bring_up_to_date(bank)


def choose_format(
    given: str | None,
    known: Sequence[str],
    *,
    flag: str = "--format",
    detected: str | None = None,
    default: str,
) -> str:
    """The format to use: the one given (in any case), else the one recognised from the file
    (`detected`), else the default."""
    if given is None:
        return detected or default
    name = given.lower()
    if name not in known:
        raise UsageError(f"{flag} must be one of {', '.join(known)}, not {given!r}")
    return name


def parse_listen(text: str, *, default_port: int, flag: str = "--listen") -> tuple[str, int]:
    """`--listen IP[:PORT]` of every server command (`[::1]:8000` for IPv6)."""
    from hashwarden.blocking.resolver import parse_hostport

    try:
        host, port = parse_hostport(text, default_port=default_port)
    except ValueError:  # a port that is not a number
        raise UsageError(f"{flag} {text!r} is not IP[:PORT]") from None
    if not 0 < port < 65536:
        raise UsageError(f"{flag} {text!r}: the port must be between 1 and 65535")
    return host, port


def is_stdio(path: Path | None) -> bool:
    return path is None or str(path) == "-"


@contextmanager
def output(path: Path | None) -> Iterator[BinaryIO]:
    """Where an export goes: standard output without `--out` or with `--out -`, else the
    file."""
    if is_stdio(path):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    assert path is not None
    with path.open("wb") as stream:
        yield stream


def where(path: Path | None) -> str:
    return "standard output" if is_stdio(path) else str(path)
