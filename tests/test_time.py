"""One timestamp format for everything hashwarden stores: text order is time order, and times
stored in whole seconds by earlier versions compare correctly once read with `as_stored`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwarden._time import as_stored, parse_utc, utc_now, utc_text, utc_today

_TIMES = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
)


def test_now_is_utc_with_microseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utc_now())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", utc_today())


@given(_TIMES, _TIMES)
def test_text_order_is_time_order(a: datetime, b: datetime) -> None:
    assert (utc_text(a) < utc_text(b)) == (a < b)
    assert parse_utc(utc_text(a)) == a


@given(_TIMES, _TIMES)
def test_whole_seconds_from_earlier_versions_compare_once_read(a: datetime, b: datetime) -> None:
    """`disabled_until` used to be stored as `...06Z`: as text that sorts after every
    `...06.xxxxxxZ`; read through `as_stored` it compares as the time it is."""
    old = a.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert (as_stored(old) <= utc_text(b)) == (a.replace(microsecond=0) <= b)


def test_the_second_boundary() -> None:
    old, now = "2031-02-03T04:05:06Z", "2031-02-03T04:05:06.000000Z"
    assert not old <= now  # why stored text is read through as_stored
    assert as_stored(old) <= now


def test_parse_accepts_dates_offsets_and_refuses_the_rest() -> None:
    assert parse_utc("2027-01-01") == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_utc("2027-01-01T02:00:00+02:00") == datetime(2027, 1, 1, tzinfo=UTC)
    moment = datetime(2027, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_text(moment) == "2027-01-01T17:00:00.000000Z"
    with pytest.raises(ValueError):
        parse_utc("next tuesday")
    assert as_stored("next tuesday") == "next tuesday"
