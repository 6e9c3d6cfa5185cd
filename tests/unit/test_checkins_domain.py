"""Check-in domain rules: scores, local days across DST and odd offsets, streaks, travel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain.checkins import (
    DayPoint,
    DayRecord,
    ScoreError,
    Streaks,
    average,
    backfill_window,
    clean_note,
    continues,
    daily_series,
    moved_east,
    parse_score,
    prompt_index,
    streaks,
)
from bot.domain.localtime import local_date, occurrence_on, zone
from bot.services.checkins import reminder_wall_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(start: date, n: int, tz: str = "UTC") -> list[DayRecord]:
    return [DayRecord(start + timedelta(days=i), tz) for i in range(n)]


# -- scores -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [(1, 1), (5, 5), ("3", 3), (" 4 ", 4), ("05", 5)])
def test_mood_scores_accepted(value: int | str, expected: int) -> None:
    assert parse_score(value, 1, 5) == expected


@pytest.mark.parametrize("value", [0, 6, -1, "6", "0", "great", "", " ", "3.5", "4/5", "+3", "٣", True, "1e0"])
def test_mood_scores_refused(value: int | str) -> None:
    with pytest.raises(ScoreError):
        parse_score(value, 1, 5)


@pytest.mark.parametrize(("value", "ok"), [(0, True), (10, True), ("10", True), (11, False), ("-1", False)])
def test_craving_range(value: int | str, ok: bool) -> None:
    if ok:
        assert parse_score(value, 0, 10) == int(value)
    else:
        with pytest.raises(ScoreError):
            parse_score(value, 0, 10)


def test_clean_note_strips_and_treats_blank_as_nothing() -> None:
    assert clean_note("  hello \n") == "hello"
    assert clean_note("   ") is None
    assert clean_note(None) is None


# -- local days across DST and odd offsets --------------------------------------------------

TRANSITIONS = [
    # (zone, a date range that straddles a DST change or an odd offset)
    ("America/New_York", date(2026, 3, 6)),    # spring forward 2026-03-08
    ("America/New_York", date(2026, 10, 30)),  # fall back 2026-11-01
    ("Europe/London", date(2026, 3, 27)),      # 2026-03-29
    ("Europe/London", date(2026, 10, 23)),     # 2026-10-25
    ("Australia/Lord_Howe", date(2026, 4, 3)),  # half-hour DST ends 2026-04-05
    ("Australia/Lord_Howe", date(2026, 10, 2)),  # half-hour DST starts 2026-10-04
    ("Asia/Kolkata", date(2026, 3, 6)),        # +05:30, no DST
    ("Pacific/Chatham", date(2026, 4, 3)),     # +13:45 → +12:45 on 2026-04-05
    ("Pacific/Chatham", date(2026, 9, 25)),    # +12:45 → +13:45 on 2026-09-27
]


@pytest.mark.parametrize(("zone_name", "start"), TRANSITIONS)
@pytest.mark.parametrize("wall", [time(0, 5), time(2, 30), time(23, 55)])
def test_daily_checkins_across_dst_make_one_unbroken_streak(zone_name: str, start: date, wall: time) -> None:
    tz = zone(zone_name)
    instants = [occurrence_on(start + timedelta(days=i), wall, tz) for i in range(5)]
    records = [DayRecord(local_date(instant, tz), zone_name) for instant in instants]
    # Every instant lands on its own local date, even on 23- and 25-hour days.
    assert [r.local_date for r in records] == [start + timedelta(days=i) for i in range(5)]
    assert streaks(records, start + timedelta(days=4), zone_name) == Streaks(5, 5)


@pytest.mark.parametrize(("zone_name", "instant", "expected"), [
    # Midnight is the boundary, whatever the offset.
    ("Pacific/Chatham", utc(2026, 1, 14, 10, 14), date(2026, 1, 14)),   # 23:59 +13:45
    ("Pacific/Chatham", utc(2026, 1, 14, 10, 16), date(2026, 1, 15)),   # 00:01
    ("Asia/Kolkata", utc(2026, 6, 1, 18, 29), date(2026, 6, 1)),        # 23:59 +05:30
    ("Asia/Kolkata", utc(2026, 6, 1, 18, 31), date(2026, 6, 2)),
    ("Australia/Lord_Howe", utc(2026, 1, 10, 12, 59), date(2026, 1, 10)),  # 23:59 +11:00
    ("Australia/Lord_Howe", utc(2026, 1, 10, 13, 1), date(2026, 1, 11)),
    # New York fall-back: 25 hours in the day, 01:30 happens twice; both are 1 November.
    ("America/New_York", utc(2026, 11, 1, 5, 30), date(2026, 11, 1)),
    ("America/New_York", utc(2026, 11, 1, 6, 30), date(2026, 11, 1)),
    ("America/New_York", utc(2026, 11, 2, 4, 59), date(2026, 11, 1)),   # 23:59 EST
])
def test_local_date_boundaries(zone_name: str, instant: datetime, expected: date) -> None:
    assert local_date(instant, zone(zone_name)) == expected


def test_two_checkins_in_one_25_hour_day_are_one_day() -> None:
    tz = zone("Europe/London")
    early = local_date(utc(2026, 10, 25, 0, 30), tz)   # 01:30 BST
    late = local_date(utc(2026, 10, 25, 1, 30), tz)    # 01:30 GMT, an hour later
    records = [DayRecord(early, "Europe/London"), DayRecord(late, "Europe/London")]
    assert streaks(records, early, "Europe/London") == Streaks(1, 1)


# -- streaks ------------------------------------------------------------------------------

def test_no_records_no_streak() -> None:
    assert streaks([], date(2026, 5, 1), "UTC") == Streaks(0, 0)


def test_streak_is_current_today_and_yesterday_but_not_after_a_missed_day() -> None:
    days = run(date(2026, 5, 1), 3)  # 1–3 May
    assert streaks(days, date(2026, 5, 3), "UTC") == Streaks(3, 3)
    assert streaks(days, date(2026, 5, 4), "UTC") == Streaks(3, 3)   # still time to check in today
    assert streaks(days, date(2026, 5, 5), "UTC") == Streaks(0, 3)   # longest survives


def test_longest_streak_survives_a_gap_and_a_new_run_starts_at_one() -> None:
    days = run(date(2026, 5, 1), 6) + run(date(2026, 5, 9), 2)
    assert streaks(days, date(2026, 5, 10), "UTC") == Streaks(2, 6)


def test_duplicates_and_order_do_not_matter() -> None:
    days = list(reversed(run(date(2026, 5, 1), 4))) + [DayRecord(date(2026, 5, 2), "UTC")]
    assert streaks(days, date(2026, 5, 4), "UTC") == Streaks(4, 4)


# -- travel -------------------------------------------------------------------------------

def test_flying_east_over_the_date_line_keeps_the_streak() -> None:
    # Monday evening in Los Angeles, then Wednesday morning in Tokyo: Tuesday never happened.
    la = [DayRecord(date(2026, 5, 3), "America/Los_Angeles"), DayRecord(date(2026, 5, 4), "America/Los_Angeles")]
    tokyo = [DayRecord(date(2026, 5, 6), "Asia/Tokyo")]
    assert moved_east(la[-1], tokyo[0])
    assert continues(la[-1], tokyo[0])
    # The skipped date is forgiven, not counted.
    assert streaks(la + tokyo, date(2026, 5, 6), "Asia/Tokyo") == Streaks(3, 3)


def test_the_grace_also_applies_between_the_last_day_and_today() -> None:
    days = [DayRecord(date(2026, 5, 4), "America/Los_Angeles")]
    assert streaks(days, date(2026, 5, 6), "Asia/Tokyo").current == 1
    assert streaks(days, date(2026, 5, 6), "America/Los_Angeles").current == 0


def test_a_missed_day_without_moving_east_breaks_the_run() -> None:
    same_zone = [DayRecord(date(2026, 5, 4), "Asia/Tokyo"), DayRecord(date(2026, 5, 6), "Asia/Tokyo")]
    assert streaks(same_zone, date(2026, 5, 6), "Asia/Tokyo") == Streaks(1, 1)
    west = [DayRecord(date(2026, 5, 4), "Asia/Tokyo"), DayRecord(date(2026, 5, 6), "America/Los_Angeles")]
    assert not moved_east(west[0], west[1])
    assert streaks(west, date(2026, 5, 6), "America/Los_Angeles") == Streaks(1, 1)


def test_only_one_missing_date_is_forgiven() -> None:
    days = [DayRecord(date(2026, 5, 4), "America/Los_Angeles"), DayRecord(date(2026, 5, 7), "Asia/Tokyo")]
    assert streaks(days, date(2026, 5, 7), "Asia/Tokyo") == Streaks(1, 1)


def test_same_offset_zone_change_is_not_east() -> None:
    assert not moved_east(DayRecord(date(2026, 5, 4), "Europe/Paris"), DayRecord(date(2026, 5, 6), "Europe/Berlin"))


def test_flying_west_repeats_a_date_without_harm() -> None:
    # Tuesday in Tokyo, then Monday again in Los Angeles, then Tuesday in Los Angeles.
    days = [DayRecord(date(2026, 5, 4), "Asia/Tokyo"), DayRecord(date(2026, 5, 5), "Asia/Tokyo"),
            DayRecord(date(2026, 5, 4), "America/Los_Angeles"), DayRecord(date(2026, 5, 5), "America/Los_Angeles")]
    # Today in LA is still 4 May after the flight: the later record is not "in the future" trouble.
    assert streaks(days, date(2026, 5, 4), "America/Los_Angeles") == Streaks(2, 2)


# -- charts, averages, prompts, backfill, reminders ------------------------------------------

def test_daily_series_has_a_point_per_day_and_gaps_as_none() -> None:
    values = {date(2026, 5, 1): (4, 2), date(2026, 5, 3): (2, None)}
    assert daily_series(values, date(2026, 5, 1), date(2026, 5, 4)) == [
        DayPoint(date(2026, 5, 1), 4, 2), DayPoint(date(2026, 5, 2), None, None),
        DayPoint(date(2026, 5, 3), 2, None), DayPoint(date(2026, 5, 4), None, None),
    ]


def test_average_ignores_gaps() -> None:
    assert average([4, None, 2]) == 3
    assert average([None]) is None
    assert average([]) is None


def test_prompt_rotation_is_deterministic_and_visits_every_prompt() -> None:
    start = date(2026, 1, 1)
    picks = [prompt_index(start + timedelta(days=i), 70) for i in range(70)]
    assert sorted(picks) == list(range(70))
    assert prompt_index(date(2026, 3, 4), 70) == prompt_index(date(2026, 3, 4), 70)
    with pytest.raises(ValueError):
        prompt_index(start, 0)


def test_backfill_window_is_seven_days() -> None:
    assert backfill_window(date(2026, 3, 10)) == (date(2026, 3, 3), date(2026, 3, 10))


@pytest.mark.parametrize(("at", "quiet", "expected"), [
    (time(20, 0), None, time(20, 0)),
    (time(20, 0), (time(22, 0), time(7, 0)), time(20, 0)),
    (time(6, 0), (time(22, 0), time(7, 0)), time(7, 0)),      # deferred to the end of quiet hours
    (time(23, 0), (time(22, 0), time(7, 0)), None),            # quiet until tomorrow: skipped
    (time(13, 0), (time(12, 0), time(14, 0)), time(14, 0)),    # daytime quiet hours
    (time(14, 0), (time(12, 0), time(14, 0)), time(14, 0)),    # the end is not quiet
])
def test_reminder_wall_time_respects_quiet_hours(at: time, quiet: tuple[time, time] | None,
                                                 expected: time | None) -> None:
    start, end = quiet if quiet else (None, None)
    assert reminder_wall_time(at, start, end) == expected
