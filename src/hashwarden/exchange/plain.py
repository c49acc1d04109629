"""Plain hash lists: one hash a line, `#` comments and blank lines ignored.

The kind of a bare hash is told by its length where only one kind has it (32 digits md5,
40 sha1); 64 digits may be SHA-256 or PDQ, so such lists need `kind`. A line may also be
written `<kind> <value>` (python-threatexchange's local file form).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from hashwarden.errors import DataError, HashwardenError
from hashwarden.signals.base import Signal, SignalRegistry
from hashwarden.signals.registry import default_registry

__all__ = ["MAX_LINE", "read_plain", "write_plain"]

#: The longest line read (a long video's vPDQ runs to hundreds of kilobytes): a list that is
#: one endless line is refused at this bound instead of being read whole into memory.
MAX_LINE = 16 << 20


def _kind_for(value: str, registry: SignalRegistry, line_no: int, name: str) -> str:
    candidates = registry.hex_kinds_of_length(len(value))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{name} line {line_no}: {value[:80]!r} is not a hash of a known length")
    raise DataError(
        f"{name} line {line_no}: a {len(value)}-digit value may be {' or '.join(candidates)};"
        " say which with --kind"
    )


def read_plain(
    stream: TextIO,
    *,
    kind: str | None = None,
    name: str = "input",
    registry: SignalRegistry | None = None,
) -> Iterator[tuple[int, Signal]]:
    """(line number, signal) for each hash in the list; a bad line raises DataError naming it."""
    reg = registry or default_registry()
    if kind is not None:
        reg.get(kind)
    line_no = 0
    while raw := stream.readline(MAX_LINE + 1):
        line_no += 1
        if len(raw) > MAX_LINE:
            raise DataError(f"{name} line {line_no} is longer than {MAX_LINE >> 20} MiB")
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) == 2:
            line_kind, value = parts
        elif len(parts) == 1:
            value = parts[0]
            line_kind = kind or _kind_for(value, reg, line_no, name)
        else:
            raise DataError(f"{name} line {line_no}: expected one hash, found {len(parts)} fields")
        try:
            yield line_no, reg.signal(line_kind, value)
        except HashwardenError as exc:
            raise DataError(f"{name} line {line_no}: {exc}") from exc


def write_plain(signals: Iterable[Signal], out: TextIO, *, with_kind: bool) -> int:
    count = 0
    for s in signals:
        out.write(f"{s.kind} {s.value}\n" if with_kind else f"{s.value}\n")
        count += 1
    return count
