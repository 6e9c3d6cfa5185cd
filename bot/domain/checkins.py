"""Check-in and pledge days, streaks, and the rules for odd calendars.

The local day
    A check-in (or pledge) belongs to the member's local calendar date at the moment it
    is recorded, in their zone: `/settings timezone`, else the server's zone, else the
    config default. The date is stored as text beside the zone that defined it. Midnight
    is the only boundary: 23:59 and 00:01 are two days. DST never changes which date an
    instant falls on, so a 23- or 25-hour day is still one day.

Streaks
    A streak is a run of consecutive recorded local dates. The current streak is the run
    ending at the latest recorded date, and it is still current while that date is today
    or yesterday (a member who checked in yesterday has all of today to continue).
    Longest streaks and totals are computed from every recorded date, so they survive a
    missed day; nothing is ever taken away.

Travel (a change of zone)
    * A day already recorded stays recorded, with the zone it was recorded in. Its date
      is never recomputed when the member's zone changes later.
    * Flying west can repeat a calendar date (Tokyo Tuesday, then Los Angeles Monday
      again). Checking in on a date that is already recorded updates that day; a repeated
      date never counts twice and never breaks anything.
    * Flying east can skip a calendar date (Los Angeles Monday evening, then Tokyo
      Wednesday morning: Tuesday never happened for that person). So when the zone of a
      recorded day is further east (a larger UTC offset) than the zone of the previous
      recorded day, one missing date between them is forgiven: the streak continues but
      the skipped date is not counted as a day. The same grace applies between the last
      recorded day and today. The rule is generous on purpose: someone who moved east
      and truly missed one day keeps their streak once, which fits a "no shame" product
      better than punishing a flight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.domain.localtime import zone

MOOD_MIN, MOOD_MAX = 1, 5
CRAVING_MIN, CRAVING_MAX = 0, 10
NOTE_MAX = 500
BACKFILL_DAYS = 7
STATS_MIN_DAYS, STATS_MAX_DAYS, STATS_DEFAULT_DAYS = 7, 365, 30

_WHOLE_NUMBER = re.compile(r"[0-9]{1,3}", re.ASCII)


class ScoreError(ValueError):
    """A mood or craving value that is not a whole number in range."""


@dataclass(frozen=True, slots=True)
class DayRecord:
    """A recorded local date and the zone that defined it."""

    local_date: date
    timezone: str


@dataclass(frozen=True, slots=True)
class Streaks:
    """Current and longest runs of consecutive recorded days."""

    current: int
    longest: int


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One local day of a chart: None where nothing was recorded (a gap, not a zero)."""

    day: date
    mood: int | None
    craving: int | None


def parse_score(value: int | str, low: int, high: int) -> int:
    """Return a whole number from `low` to `high` given as an option or typed into a field."""
    if isinstance(value, bool):
        raise ScoreError(value)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if _WHOLE_NUMBER.fullmatch(text) is None:
            raise ScoreError(value)
        number = int(text)
    if not low <= number <= high:
        raise ScoreError(value)
    return number


def clean_note(text: str | None) -> str | None:
    """Return a note without surrounding blanks or NUL characters, or None when nothing was written.

    NUL is no text anyone writes, and PostgreSQL cannot store it: both engines keep the same note.
    """
    if text is None:
        return None
    stripped = text.replace("\x00", "").strip()
    return stripped or None


def backfill_window(today: date) -> tuple[date, date]:
    """Return the earliest and latest local dates a check-in may be recorded for."""
    return today - timedelta(days=BACKFILL_DAYS), today


def _utc_offset(timezone: str, day: date) -> timedelta:
    offset = datetime.combine(day, time(12), tzinfo=zone(timezone)).utcoffset()
    return offset or timedelta(0)


def moved_east(earlier: DayRecord, later: DayRecord) -> bool:
    """Tell whether the member's zone changed to one with a larger UTC offset between two days."""
    if earlier.timezone == later.timezone:
        return False
    return _utc_offset(later.timezone, later.local_date) > _utc_offset(earlier.timezone, earlier.local_date)


def continues(earlier: DayRecord, later: DayRecord) -> bool:
    """Tell whether `later` extends a run ending at `earlier` (see the travel rule above)."""
    gap = (later.local_date - earlier.local_date).days
    if gap <= 1:
        return True
    return gap == 2 and moved_east(earlier, later)


def distinct_days(records: Iterable[DayRecord]) -> list[DayRecord]:
    """Return records sorted by date, one per date (the first recorded zone wins)."""
    by_day: dict[date, DayRecord] = {}
    for record in records:
        by_day.setdefault(record.local_date, record)
    return [by_day[d] for d in sorted(by_day)]


def streaks(records: Iterable[DayRecord], today: date, today_zone: str) -> Streaks:
    """Return the current and longest streaks of recorded days as of local `today`."""
    days = distinct_days(records)
    if not days:
        return Streaks(0, 0)
    run = longest = 1
    for earlier, later in zip(days, days[1:], strict=False):
        run = run + 1 if continues(earlier, later) else 1
        longest = max(longest, run)
    current = run if continues(days[-1], DayRecord(today, today_zone)) else 0
    return Streaks(current=current, longest=longest)


def daily_series(values: Mapping[date, tuple[int, int | None]], start: date, end: date) -> list[DayPoint]:
    """Return one point per local date from `start` to `end`, with gaps where nothing was recorded."""
    points = []
    day = start
    while day <= end:
        mood, craving = values.get(day, (None, None))
        points.append(DayPoint(day, mood, craving))
        day += timedelta(days=1)
    return points


def average(values: Sequence[int | None]) -> float | None:
    """Return the mean of the recorded values, or None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def prompt_index(day: date, count: int) -> int:
    """Return which prompt to use on a local date: deterministic, so a restart picks the same one."""
    if count <= 0:
        raise ValueError("no prompts to choose from")
    return day.toordinal() % count
