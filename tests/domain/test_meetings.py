"""Weekly meeting times: local wall time kept across DST, gaps refused, occurrences in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.meetings import WeeklyTime, first_gap, parse_weekday, wall_time_exists

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(weekday: str, hh: int, mm: int, tz: str, minutes: int = 60) -> WeeklyTime:
    return WeeklyTime(parse_weekday(weekday), time(hh, mm), ZoneInfo(tz), timedelta(minutes=minutes))


@pytest.mark.parametrize(("text", "day"), [("monday", 0), ("Sunday", 6), ("wed", 2), (" FRIDAY ", 4)])
def test_weekdays_by_name(text: str, day: int) -> None:
    assert parse_weekday(text) == day


def test_an_unknown_weekday_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_weekday("someday")


def test_the_local_time_stays_across_both_dst_changes() -> None:
    # Tuesdays 19:00 in New York from February to December 2027: 00:00 UTC in winter, 23:00 UTC in summer.
    meeting = weekly("tuesday", 19, 0, "America/New_York")
    starts = []
    instant = utc(2027, 2, 1)
    for _ in range(48):
        instant = meeting.first_start_after(instant)
        starts.append(instant)
    assert all(s.astimezone(NEW_YORK).time() == time(19, 0) for s in starts)
    assert all(s.astimezone(NEW_YORK).weekday() == 1 for s in starts)
    assert all(later - earlier in (timedelta(days=7), timedelta(days=7, hours=-1), timedelta(days=7, hours=1))
               for earlier, later in zip(starts, starts[1:], strict=False))
    by_hour = {s.hour for s in starts}
    assert by_hour == {0, 23}, "the UTC hour changes with DST; the local hour never does"
    # The week clocks spring forward is an hour shorter in UTC; the week they fall back, an hour longer.
    assert meeting.first_start_after(utc(2027, 3, 10)) == utc(2027, 3, 16, 23)
    assert meeting.first_start_after(utc(2027, 11, 3)) == utc(2027, 11, 10, 0)


def test_first_start_after_is_strictly_after_and_current_or_next_includes_one_in_progress() -> None:
    meeting = weekly("tuesday", 19, 0, "America/New_York", minutes=90)
    start = utc(2027, 1, 13, 0)  # Tuesday 12 January 2027, 19:00 EST
    assert meeting.first_start_after(start - timedelta(seconds=1)) == start
    assert meeting.first_start_after(start) == start + timedelta(days=7)
    assert meeting.current_or_next(start + timedelta(minutes=89)) == start
    assert meeting.current_or_next(start + timedelta(minutes=90)) == start + timedelta(days=7)
    assert meeting.end_of(start) == start + timedelta(minutes=90)


def test_a_wall_time_inside_the_spring_gap_does_not_exist() -> None:
    assert not wall_time_exists(date(2027, 3, 14), time(2, 30), NEW_YORK)
    assert wall_time_exists(date(2027, 3, 14), time(3, 30), NEW_YORK)
    assert wall_time_exists(date(2027, 11, 7), time(1, 30), NEW_YORK), "an ambiguous time exists (twice)"


@pytest.mark.parametrize(("weekday", "at", "tz", "gap"), [
    ("sunday", time(2, 30), "America/New_York", date(2027, 3, 14)),
    ("sunday", time(2, 0), "America/New_York", date(2027, 3, 14)),
    ("saturday", time(2, 30), "America/New_York", None),  # the gap is on Sundays only
    ("sunday", time(3, 0), "America/New_York", None),
    ("sunday", time(1, 30), "America/New_York", None),  # exists twice in November: the first one
    ("sunday", time(2, 15), "Australia/Lord_Howe", date(2027, 10, 3)),  # a half-hour gap
    ("friday", time(0, 15), "America/Santiago", None),
    ("sunday", time(0, 15), "America/Santiago", date(2027, 9, 5)),  # Chile springs forward at midnight
    ("monday", time(2, 30), "Asia/Kolkata", None),  # no DST at all
])
def test_first_gap_finds_the_first_meeting_day_without_that_time(weekday: str, at: time, tz: str,
                                                                   gap: date | None) -> None:
    assert first_gap(parse_weekday(weekday), at, ZoneInfo(tz), date(2027, 1, 1)) == gap
