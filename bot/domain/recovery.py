"""Recovery counters as pure values: calendar durations, milestone ladders, periods and slips.

A counter is a run of periods. Each period starts on a local calendar date; a slip ends
the current period on the slip date and a new one starts that same date, so the current
streak restarts while longest streak, total days and the slip history survive.

Days are whole calendar days between local dates (the start date is day 0, the next
date day 1). Human durations ("1 year, 2 months, 3 days") are calendar arithmetic, not
multiples of 30 or 365 days: a month or year added to a date that does not exist in the
target month (31 January + 1 month, 29 February + 1 year) lands on that month's last day.

Milestones come from a server's ladder of day counts. A rung that is a whole number of
years (365, 730…) is celebrated on the calendar anniversary, so the "1 year" celebration
falls on the day `/recovery show` first says "1 year" even across a leap day; other
rungs are plain day counts. After the last rung, every further anniversary is a
milestone.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

DAYS_PER_YEAR_RUNG = 365
DEFAULT_LADDER: tuple[int, ...] = (1, 3, 7, 14, 30, 60, 90, 180, 270, 365)


class Visibility(StrEnum):
    """Who may see a counter."""

    PRIVATE = "private"
    BUDDIES = "buddies"
    SERVER = "server"


class Celebrate(StrEnum):
    """How a member wants milestones celebrated."""

    CHANNEL = "channel"
    DM = "dm"
    OFF = "off"


class Delivery(StrEnum):
    """How one milestone was actually celebrated."""

    CHANNEL = "channel"
    DM = "dm"
    NONE = "none"


def celebration_delivery(visibility: Visibility, celebrate: Celebrate, has_channel: bool) -> Delivery:
    """Decide where a milestone goes: public only for `server` + `channel`, never more public than chosen.

    `channel` on a counter that is not visible to the server, or in a server without a
    celebrations channel, falls back to a DM: the member asked to be celebrated, and a
    DM is the one place that shares nothing with anyone else.
    """
    if celebrate is Celebrate.OFF:
        return Delivery.NONE
    if celebrate is Celebrate.CHANNEL and visibility is Visibility.SERVER and has_channel:
        return Delivery.CHANNEL
    return Delivery.DM


# -- calendar arithmetic ---------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """Return `day` moved by whole calendar months, clipped to the target month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    """Return `day` moved by whole calendar years (29 February → 28 February when needed)."""
    return add_months(day, 12 * years)


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration in years, months and days."""

    years: int
    months: int
    days: int

    def __str__(self) -> str:
        """Format as "1 year, 2 months, 3 days", leaving out zero parts."""
        parts = [_plural(n, unit) for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return ", ".join(parts) if parts else "0 days"


def calendar_duration(start: date, end: date) -> Duration:
    """Return the calendar duration from `start` to `end` (not before `start`)."""
    if end < start:
        raise ValueError("end is before start")
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    days = (end - add_months(start, months)).days
    return Duration(months // 12, months % 12, days)


def _plural(n: int, unit: str) -> str:
    return f"{n:,} {unit}" if n == 1 else f"{n:,} {unit}s"


def days_phrase(days: int) -> str:
    """Return "1 day" / "30 days"."""
    return _plural(days, "day")


# -- milestone ladders -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rung:
    """One step of a server's milestone ladder."""

    days: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Ladder:
    """A server's milestone ladder: sorted, distinct, non-empty; `custom` if a moderator changed it."""

    rungs: tuple[Rung, ...]
    custom: bool = False

    @classmethod
    def of(cls, days: Iterable[int], *, custom: bool = False) -> Ladder:
        """Build a ladder from day counts without descriptions."""
        return cls(tuple(Rung(d) for d in sorted(set(days))), custom)

    def __post_init__(self) -> None:
        days = [r.days for r in self.rungs]
        if not days or days != sorted(set(days)) or days[0] < 1:
            raise ValueError("a ladder is a non-empty increasing list of positive day counts")

    @property
    def days(self) -> tuple[int, ...]:
        """The day counts."""
        return tuple(r.days for r in self.rungs)


@dataclass(frozen=True, slots=True)
class Milestone:
    """A milestone of one period: reached on local date `on`, `days` after the period's start."""

    days: int
    on: date
    years: int  # whole years on `on` (0 unless it is an anniversary)
    description: str | None = None

    @property
    def label(self) -> str:
        """Return "1 year" for an anniversary, else "30 days"."""
        return _plural(self.years, "year") if self.years else days_phrase(self.days)


def iter_milestones(start: date, ladder: Ladder) -> Iterator[Milestone]:
    """Yield a period's milestones in date order, without end (anniversaries go on)."""
    by_date: dict[date, Milestone] = {}
    for rung in ladder.rungs:
        if rung.days % DAYS_PER_YEAR_RUNG == 0:
            years = rung.days // DAYS_PER_YEAR_RUNG
            on = _safe_add_years(start, years)
        else:
            years, on = 0, _safe_add_days(start, rung.days)
        if on is None:
            break
        # Two rungs on one date (365 and 366 across a leap day): celebrate once, as a year.
        if on not in by_date or (years and not by_date[on].years):
            by_date[on] = Milestone((on - start).days, on, years, rung.description)
    ordered = sorted(by_date.values(), key=lambda m: m.on)
    yield from ordered
    last = ordered[-1].on if ordered else start
    years = calendar_duration(start, last).years + 1
    while True:
        on = _safe_add_years(start, years)
        if on is None:
            return
        if on > last:
            yield Milestone((on - start).days, on, years)
        years += 1


def _safe_add_years(day: date, years: int) -> date | None:
    try:
        return add_years(day, years)
    except ValueError:  # beyond date.max
        return None


def _safe_add_days(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def next_milestone(start: date, ladder: Ladder, *, after_days: int) -> Milestone | None:
    """Return the first milestone more than `after_days` days into the period."""
    for milestone in iter_milestones(start, ladder):
        if milestone.days > after_days:
            return milestone
    return None


def first_milestone_from(start: date, ladder: Ladder, day: date, *, after_days: int = 0) -> Milestone | None:
    """Return the first milestone on or after local `day` and beyond `after_days` days.

    This is where a counter's schedule points when it is (re)started or its settings
    change: milestones before today belong to time the bot was not counting, so they are
    not celebrated late; today's still is.
    """
    return next_milestone(start, ladder, after_days=max(after_days, (day - start).days - 1))


def reached_milestone(start: date, ladder: Ladder, *, after_days: int, today: date) -> Milestone | None:
    """Return the highest milestone beyond `after_days` reached by `today`, if any.

    After downtime several may be due; only the highest is celebrated, so a member gets
    one warm message rather than a burst of stale ones.
    """
    best = None
    for milestone in iter_milestones(start, ladder):
        if milestone.on > today:
            break
        if milestone.days > after_days:
            best = milestone
    return best


# -- periods, streaks and slips --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Period:
    """One stretch of a counter: from `start` until the slip on `end` (None = ongoing)."""

    start: date
    end: date | None = None

    def days(self, today: date) -> int:
        """Whole days in this period as of local `today`."""
        return max(0, ((self.end or today) - self.start).days)


@dataclass(frozen=True, slots=True)
class CounterStats:
    """What a counter's history adds up to on one local day."""

    start: date
    current_days: int
    longest_days: int
    total_days: int
    first_start: date
    slips: tuple[date, ...]

    @property
    def duration(self) -> Duration:
        """The current streak as a calendar duration."""
        return calendar_duration(self.start, self.start + timedelta(days=self.current_days))


def counter_stats(periods: Sequence[Period], today: date) -> CounterStats:
    """Summarise periods (oldest first, the last one ongoing) as of local `today`."""
    if not periods or periods[-1].end is not None:
        raise ValueError("a counter has exactly one ongoing period, the latest")
    lengths = [p.days(today) for p in periods]
    return CounterStats(
        start=periods[-1].start,
        current_days=lengths[-1],
        longest_days=max(lengths),
        total_days=sum(lengths),
        first_start=periods[0].start,
        slips=tuple(p.end for p in periods if p.end is not None),
    )
