"""Calendar maths, milestone ladders, periods and slips (pure functions)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.recovery import (
    DEFAULT_LADDER,
    Celebrate,
    Delivery,
    Duration,
    Ladder,
    Period,
    Rung,
    Visibility,
    add_months,
    add_years,
    calendar_duration,
    celebration_delivery,
    counter_stats,
    first_milestone_from,
    iter_milestones,
    next_milestone,
    reached_milestone,
)

D = date.fromisoformat
DEFAULT = Ladder.of(DEFAULT_LADDER)


@pytest.mark.parametrize(("start", "months", "expected"), [
    ("2024-01-31", 1, "2024-02-29"),   # leap February
    ("2023-01-31", 1, "2023-02-28"),   # common February
    ("2023-03-31", 1, "2023-04-30"),   # 30-day month
    ("2024-02-29", 12, "2025-02-28"),  # leap day, one year on
    ("2024-02-29", 48, "2028-02-29"),  # and four years on
    ("2024-03-31", -1, "2024-02-29"),
    ("2023-12-15", 1, "2024-01-15"),   # year boundary
    ("2023-01-15", -13, "2021-12-15"),
])
def test_add_months_clips_to_month_end(start: str, months: int, expected: str) -> None:
    assert add_months(D(start), months) == D(expected)


def test_add_years_moves_leap_day_to_28_february() -> None:
    assert add_years(D("2024-02-29"), 1) == D("2025-02-28")
    assert add_years(D("2024-02-29"), 4) == D("2028-02-29")


@pytest.mark.parametrize(("start", "end", "expected", "text"), [
    ("2024-01-01", "2024-01-01", (0, 0, 0), "0 days"),
    ("2023-12-31", "2024-01-01", (0, 0, 1), "1 day"),
    ("2024-01-01", "2025-03-04", (1, 2, 3), "1 year, 2 months, 3 days"),
    ("2024-02-29", "2025-02-28", (1, 0, 0), "1 year"),
    ("2024-02-29", "2025-03-01", (1, 0, 1), "1 year, 1 day"),
    ("2024-02-29", "2028-02-29", (4, 0, 0), "4 years"),
    ("2024-02-28", "2024-03-28", (0, 1, 0), "1 month"),
    ("2023-01-31", "2023-02-28", (0, 1, 0), "1 month"),
    ("2023-01-31", "2023-03-01", (0, 1, 1), "1 month, 1 day"),
    ("2024-01-31", "2024-02-29", (0, 1, 0), "1 month"),
    ("2020-03-01", "2021-02-28", (0, 11, 27), "11 months, 27 days"),
    ("2023-03-01", "2024-02-29", (0, 11, 28), "11 months, 28 days"),
    ("2023-03-01", "2024-03-01", (1, 0, 0), "1 year"),
    ("1900-01-01", "2000-03-01", (100, 2, 0), "100 years, 2 months"),
    ("2022-05-17", "2024-07-16", (2, 1, 29), "2 years, 1 month, 29 days"),
])
def test_calendar_duration(start: str, end: str, expected: tuple[int, int, int], text: str) -> None:
    duration = calendar_duration(D(start), D(end))
    assert (duration.years, duration.months, duration.days) == expected
    assert str(duration) == text


def test_calendar_duration_refuses_end_before_start() -> None:
    with pytest.raises(ValueError):
        calendar_duration(D("2024-01-02"), D("2024-01-01"))


def test_duration_text_uses_thousands_separator_only_where_needed() -> None:
    assert str(Duration(0, 0, 1200)) == "1,200 days"
    assert str(Duration(2, 0, 0)) == "2 years"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
       st.integers(min_value=0, max_value=40_000))
def test_calendar_duration_recomposes_exactly(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    d = calendar_duration(start, end)
    months = d.years * 12 + d.months
    assert 0 <= d.months < 12
    assert add_months(start, months) + timedelta(days=d.days) == end
    # and it is the largest whole number of months that fits
    assert add_months(start, months + 1) > end


# -- ladders ---------------------------------------------------------------------------

def _labels(start: str, ladder: Ladder, n: int) -> list[tuple[str, int, str]]:
    return [(m.on.isoformat(), m.days, m.label) for m in islice(iter_milestones(D(start), ladder), n)]


def test_default_ladder_then_every_year_on_the_anniversary() -> None:
    assert _labels("2025-01-01", DEFAULT, 13) == [
        ("2025-01-02", 1, "1 day"), ("2025-01-04", 3, "3 days"), ("2025-01-08", 7, "7 days"),
        ("2025-01-15", 14, "14 days"), ("2025-01-31", 30, "30 days"), ("2025-03-02", 60, "60 days"),
        ("2025-04-01", 90, "90 days"), ("2025-06-30", 180, "180 days"), ("2025-09-28", 270, "270 days"),
        ("2026-01-01", 365, "1 year"), ("2027-01-01", 730, "2 years"), ("2028-01-01", 1095, "3 years"),
        ("2029-01-01", 1461, "4 years"),  # 2028 is a leap year
    ]


def test_one_year_across_a_leap_day_is_366_days_and_said_as_a_year() -> None:
    year = [m for m in islice(iter_milestones(D("2023-03-01"), DEFAULT), 12) if m.years == 1]
    assert [(m.on, m.days, m.label) for m in year] == [(D("2024-03-01"), 366, "1 year")]
    # and the calendar duration on that day agrees
    assert str(calendar_duration(D("2023-03-01"), D("2024-03-01"))) == "1 year"


def test_leap_day_start_celebrates_years_on_28_february_then_29th() -> None:
    years = [(m.on, m.label) for m in islice(iter_milestones(D("2024-02-29"), DEFAULT), 13) if m.years]
    assert years == [(D("2025-02-28"), "1 year"), (D("2026-02-28"), "2 years"), (D("2027-02-28"), "3 years"),
                     (D("2028-02-29"), "4 years")]


def test_custom_ladder_yearly_after_its_last_rung() -> None:
    ladder = Ladder.of((1, 30, 400), custom=True)
    assert _labels("2025-01-01", ladder, 5) == [
        ("2025-01-02", 1, "1 day"), ("2025-01-31", 30, "30 days"), ("2026-02-05", 400, "400 days"),
        ("2027-01-01", 730, "2 years"), ("2028-01-01", 1095, "3 years"),
    ]


def test_short_ladder_goes_on_yearly_from_the_first_anniversary() -> None:
    assert _labels("2025-01-01", Ladder.of((30,)), 3) == [
        ("2025-01-31", 30, "30 days"), ("2026-01-01", 365, "1 year"), ("2027-01-01", 730, "2 years")]


def test_two_rungs_on_the_same_date_are_one_milestone_said_as_a_year() -> None:
    ladder = Ladder.of((1, 365, 366))
    got = _labels("2023-03-01", ladder, 3)
    assert got == [("2023-03-02", 1, "1 day"), ("2024-03-01", 366, "1 year"), ("2025-03-01", 731, "2 years")]


def test_descriptions_travel_with_their_rung() -> None:
    ladder = Ladder((Rung(1, "The first one is the hardest."), Rung(30)))
    first, second, third = islice(iter_milestones(D("2025-01-01"), ladder), 3)
    assert first.description == "The first one is the hardest."
    assert second.description is None and third.description is None


@pytest.mark.parametrize("days", [(), (0, 1), (3, 1), (1, 1)])
def test_ladder_must_be_increasing_positive_and_non_empty(days: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        Ladder(tuple(Rung(d) for d in days))


@pytest.mark.parametrize(("after", "expected"), [(0, 1), (1, 3), (2, 3), (270, 365), (365, 730), (800, 1095)])
def test_next_milestone(after: int, expected: int) -> None:
    milestone = next_milestone(D("2025-01-01"), DEFAULT, after_days=after)
    assert milestone is not None and milestone.days == expected


@pytest.mark.parametrize(("today", "after", "expected"), [
    ("2025-01-01", 0, 1),     # started today: tomorrow is day 1
    ("2025-01-08", 0, 7),     # today's milestone still counts
    ("2025-01-09", 0, 14),    # yesterday's does not (the bot was not counting then)
    ("2025-01-08", 7, 14),    # already celebrated
    ("2024-12-01", 0, 1),     # today before the start (a zone moved west)
])
def test_first_milestone_from(today: str, after: int, expected: int) -> None:
    milestone = first_milestone_from(D("2025-01-01"), DEFAULT, D(today), after_days=after)
    assert milestone is not None and milestone.days == expected


@pytest.mark.parametrize(("today", "after", "expected"), [
    ("2025-01-01", 0, None),
    ("2025-01-02", 0, 1),
    ("2025-01-08", 0, 7),     # several reached: the highest only
    ("2025-01-10", 0, 7),
    ("2025-01-10", 7, None),
    ("2026-01-01", 270, 365),
])
def test_reached_milestone_is_the_highest_reached(today: str, after: int, expected: int | None) -> None:
    milestone = reached_milestone(D("2025-01-01"), DEFAULT, after_days=after, today=D(today))
    assert (milestone.days if milestone else None) == expected


# -- where celebrations go -------------------------------------------------------------

@pytest.mark.parametrize(("visibility", "celebrate", "has_channel", "expected"), [
    (Visibility.SERVER, Celebrate.CHANNEL, True, Delivery.CHANNEL),
    (Visibility.SERVER, Celebrate.CHANNEL, False, Delivery.DM),
    (Visibility.BUDDIES, Celebrate.CHANNEL, True, Delivery.DM),
    (Visibility.PRIVATE, Celebrate.CHANNEL, True, Delivery.DM),
    (Visibility.SERVER, Celebrate.DM, True, Delivery.DM),
    (Visibility.PRIVATE, Celebrate.DM, True, Delivery.DM),
    (Visibility.SERVER, Celebrate.OFF, True, Delivery.NONE),
    (Visibility.PRIVATE, Celebrate.OFF, False, Delivery.NONE),
])
def test_only_server_visibility_with_channel_is_ever_public(
        visibility: Visibility, celebrate: Celebrate, has_channel: bool, expected: Delivery) -> None:
    assert celebration_delivery(visibility, celebrate, has_channel) is expected


# -- periods and slips -----------------------------------------------------------------

def test_one_period() -> None:
    stats = counter_stats([Period(D("2025-01-01"))], D("2025-03-01"))
    assert (stats.current_days, stats.longest_days, stats.total_days, stats.slips) == (59, 59, 59, ())
    assert str(stats.duration) == "2 months"


def test_slips_keep_longest_and_total() -> None:
    periods = [Period(D("2025-01-01"), D("2025-02-01")), Period(D("2025-02-01"), D("2025-02-11")),
               Period(D("2025-02-11"))]
    stats = counter_stats(periods, D("2025-02-15"))
    assert stats.current_days == 4
    assert stats.longest_days == 31
    assert stats.total_days == 31 + 10 + 4
    assert stats.slips == (D("2025-02-01"), D("2025-02-11"))
    assert stats.first_start == D("2025-01-01")
    assert stats.start == D("2025-02-11")


def test_total_is_the_sum_of_periods_not_the_time_since_the_first_start() -> None:
    # a slip, then a fresh start some days later: the gap is not counted
    periods = [Period(D("2025-01-01"), D("2025-01-31")), Period(D("2025-02-10"))]
    stats = counter_stats(periods, D("2025-02-20"))
    assert (stats.current_days, stats.longest_days, stats.total_days) == (10, 30, 40)


def test_a_counter_has_one_ongoing_period_last() -> None:
    with pytest.raises(ValueError):
        counter_stats([], D("2025-01-01"))
    with pytest.raises(ValueError):
        counter_stats([Period(D("2025-01-01"), D("2025-01-02"))], D("2025-01-03"))
