"""Local days and wall times across DST and odd offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.localtime import (
    InvalidDateError,
    InvalidTimeOfDayError,
    InvalidTimezoneError,
    in_quiet_hours,
    latest_due_date,
    local_date,
    next_occurrence,
    occurrence_on,
    parse_hhmm,
    parse_iso_date,
    quiet_hours_end,
    suggest_zones,
    zone,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone_name", "day", "at", "expected_utc"),
    [
        # Spring forward: 02:30 does not exist in New York on 2026-03-08; it happens once, at 03:30 EDT.
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
        # Fall back: 01:30 happens twice on 2026-11-01; the first (EDT) one counts.
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        ("Europe/London", date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30)),
        ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30)),
        ("Asia/Kolkata", date(2026, 6, 1), time(9, 0), utc(2026, 6, 1, 3, 30)),
        ("Pacific/Chatham", date(2026, 1, 15), time(9, 0), utc(2026, 1, 14, 19, 15)),
        ("America/St_Johns", date(2026, 1, 15), time(9, 0), utc(2026, 1, 15, 12, 30)),
        # Lord Howe moves by 30 minutes: 02:15 does not exist on 2026-10-04.
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 45)),
        ("Pacific/Kiritimati", date(2026, 1, 1), time(0, 0), utc(2025, 12, 31, 10, 0)),
    ],
)
def test_occurrence_on(zone_name: str, day: date, at: time, expected_utc: datetime) -> None:
    assert occurrence_on(day, at, zone(zone_name)) == expected_utc


@pytest.mark.parametrize("zone_name", ["America/New_York", "Europe/London", "Australia/Lord_Howe",
                                       "Pacific/Chatham", "Asia/Kolkata", "America/St_Johns"])
@pytest.mark.parametrize("at", [time(0, 0), time(1, 30), time(2, 15), time(2, 30), time(9, 0), time(23, 59)])
def test_a_year_of_next_occurrences_has_exactly_one_per_local_day(zone_name: str, at: time) -> None:
    tz = zone(zone_name)
    instant = utc(2026, 1, 1)
    days = []
    while instant < utc(2027, 1, 1):
        instant = next_occurrence(instant, at, tz)
        days.append(local_date(instant, tz))
    assert len(days) == len(set(days)), "a local day occurred twice"
    first, last = days[0], days[-1]
    assert len(days) == (last - first).days + 1, "a local day was skipped"


def test_next_occurrence_is_strictly_after() -> None:
    tz = zone("Europe/London")
    at = utc(2026, 6, 1, 8, 0)  # 09:00 BST
    assert next_occurrence(at, time(9, 0), tz) == utc(2026, 6, 2, 8, 0)
    assert next_occurrence(at - timedelta(seconds=1), time(9, 0), tz) == at


def test_latest_due_date_is_today_only_after_the_time() -> None:
    tz = zone("America/New_York")
    assert latest_due_date(utc(2026, 6, 1, 12, 59), time(9, 0), tz) is None  # 08:59 EDT
    assert latest_due_date(utc(2026, 6, 1, 13, 0), time(9, 0), tz) == date(2026, 6, 1)
    # 23:30 local is still the same local day even though UTC has moved on.
    assert latest_due_date(utc(2026, 6, 2, 3, 30), time(9, 0), tz) == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("wall", "start", "end", "quiet"),
    [
        (time(23, 0), time(22, 0), time(7, 0), True),
        (time(3, 0), time(22, 0), time(7, 0), True),
        (time(7, 0), time(22, 0), time(7, 0), False),
        (time(12, 0), time(22, 0), time(7, 0), False),
        (time(13, 0), time(12, 0), time(14, 0), True),
        (time(14, 0), time(12, 0), time(14, 0), False),
        (time(13, 0), None, None, False),
        (time(13, 0), time(9, 0), time(9, 0), False),
    ],
)
def test_quiet_hours(wall: time, start: time | None, end: time | None, quiet: bool) -> None:
    assert in_quiet_hours(wall, start, end) is quiet


def test_quiet_hours_end_is_next_local_end() -> None:
    tz = zone("Asia/Kolkata")
    now = utc(2026, 6, 1, 18, 0)  # 23:30 IST
    assert quiet_hours_end(now, tz, time(22, 0), time(7, 0)) == utc(2026, 6, 2, 1, 30)
    assert quiet_hours_end(utc(2026, 6, 1, 6, 0), tz, time(22, 0), time(7, 0)) == utc(2026, 6, 1, 6, 0)


@pytest.mark.parametrize("text", ["", "UTC+2", "+05:30", "../etc/passwd", "/etc/localtime", "Europe/london ",
                                  "Mars/Base", "europe/london"])
def test_bad_zones_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimezoneError):
        zone(text)


@pytest.mark.parametrize(("text", "expected"), [("07:30", time(7, 30)), ("7:05", time(7, 5)), ("23:59", time(23, 59)),
                                                ("00:00", time(0, 0))])
def test_parse_hhmm(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7", "7pm", "07:60", "0730", "", "٠٧:٣٠", "٧:٣٠", "07:30:00"])
def test_parse_hhmm_refuses(text: str) -> None:
    with pytest.raises(InvalidTimeOfDayError):
        parse_hhmm(text)


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "26-01-01", "2026-1-1", "yesterday", "２０２６-01-01"])
def test_parse_iso_date_refuses(text: str) -> None:
    with pytest.raises(InvalidDateError):
        parse_iso_date(text)


def test_parse_iso_date_leap_day() -> None:
    assert parse_iso_date("2024-02-29") == date(2024, 2, 29)


def test_zone_suggestions() -> None:
    assert suggest_zones("london")[0] == "Europe/London"
    assert suggest_zones("Europe/Lo")[0] == "Europe/London"
    assert "Asia/Kolkata" in suggest_zones("kolk")
    assert "America/St_Johns" in suggest_zones("st jo")
    assert len(suggest_zones("")) == 25
