"""UTC times as hashwarden stores them: one text format, whose text order is time order.

`2026-03-04T05:06:07.123456Z` (always microseconds, always `Z`), so stored times compare as
text in SQL (`ORDER BY`, `<`) and in Python exactly as they do as times. Some rows written
before this module (named banks' `disabled_until`) hold whole seconds (`...07Z`), which text
order puts after every `...07.xxxxxxZ`: readers that compare such a column pass it through
`as_stored` first. Imports nothing of the project.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_stored", "parse_utc", "utc_now", "utc_text", "utc_today"]


def utc_text(moment: datetime) -> str:
    """A time in the stored format (a naive time is local time, as `astimezone` takes it)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """Now, in the stored format."""
    return utc_text(datetime.now(UTC))


def utc_today() -> str:
    """Today's date in UTC (`YYYY-MM-DD`): days compare as text too."""
    return datetime.now(UTC).date().isoformat()


def parse_utc(text: str) -> datetime:
    """An ISO 8601 date or time (`2027-01-01`, `...T12:00:00Z`, `...+02:00`, fractions) as an
    aware UTC time; a time without an offset is UTC. ValueError when it is neither."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_stored(text: str) -> str:
    """A stored time in today's format (whole seconds gain `.000000`), so that it compares
    as text with `utc_now()`. Text that is no time is returned as it is (compared as text,
    as it always was)."""
    try:
        return utc_text(parse_utc(text))
    except ValueError:
        return text
