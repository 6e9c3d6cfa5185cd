"""Weekly meetings: their occurrences in local wall time, and the Discord event that announces one.

A meeting is a weekday, a local wall time and an IANA zone (never an offset). Each
occurrence is computed on its own local date, so the meeting keeps its local time across
DST changes: 19:00 in New York is 23:00 UTC in summer and 00:00 UTC in winter.

A wall time that does not exist on some of the meeting's weekdays (02:30 on the Sunday
clocks spring forward) is refused when the meeting is added (`first_gap`): "02:30, except
sometimes 03:30" is not a time anyone can plan around. A wall time that exists twice (the
fall-back night) means its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.localtime import occurrence_on

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DURATION_MINUTES = (15, 240)
DEFAULT_DURATION = 60
REMIND_MINUTES = (5, 120)
DEFAULT_REMIND = 30
NAME_MAX = 60
DESCRIPTION_MAX = 1000  # Discord's limit for an event's description
LOCATION_MAX = 100  # Discord's limit for an external event's location
GAP_HORIZON_WEEKS = 5 * 53  # the weeks looked ahead for a DST gap: about five years of rules
EVENT_URL = "https://discord.com/events/{guild_id}/{event_id}"


def parse_weekday(text: str) -> int:
    """Return 0 (Monday) to 6 (Sunday) for a weekday name or its first three letters."""
    key = text.strip().lower()
    for index, name in enumerate(WEEKDAYS):
        if key in (name, name[:3]):
            return index
    raise ValueError(text)


def name_key(name: str) -> str:
    """Return the key two meeting names clash on (case and spacing do not count)."""
    return " ".join(name.casefold().split())


@dataclass(frozen=True, slots=True)
class WeeklyTime:
    """When a weekly meeting happens: weekday, local wall time, zone and length."""

    weekday: int
    at: time
    tz: ZoneInfo
    duration: timedelta

    def start_on(self, day: date) -> datetime:
        """Return the UTC start on a local date (which must be the meeting's weekday)."""
        return occurrence_on(day, self.at, self.tz)

    def starts_from(self, day: date) -> Iterator[datetime]:
        """Yield the starts on and after a local date, week by week."""
        first = day + timedelta(days=(self.weekday - day.weekday()) % 7)
        week = 0
        while True:
            yield self.start_on(first + timedelta(weeks=week))
            week += 1

    def first_start_after(self, instant: datetime) -> datetime:
        """Return the first start strictly after an instant."""
        local_day = instant.astimezone(self.tz).date() - timedelta(days=1)
        for start in self.starts_from(local_day):
            if start > instant:
                return start
        raise AssertionError("unreachable")  # pragma: no cover - starts_from never ends

    def current_or_next(self, now: datetime) -> datetime:
        """Return the start of the occurrence happening at `now`, else of the next one."""
        return self.first_start_after(now - self.duration)

    def end_of(self, start: datetime) -> datetime:
        """Return when the occurrence that starts at `start` ends."""
        return start + self.duration


def wall_time_exists(day: date, at: time, tz: ZoneInfo) -> bool:
    """Tell whether a local wall time happens at all on a local date (not inside a DST gap)."""
    wall = datetime.combine(day, at, tzinfo=tz)
    back = wall.astimezone(UTC).astimezone(tz)
    return (back.date(), back.time()) == (day, at)


def first_gap(weekday: int, at: time, tz: ZoneInfo, from_day: date, weeks: int = GAP_HORIZON_WEEKS) -> date | None:
    """Return the first of the next `weeks` meeting days on which the wall time does not exist."""
    first = from_day + timedelta(days=(weekday - from_day.weekday()) % 7)
    for week in range(weeks):
        day = first + timedelta(weeks=week)
        if not wall_time_exists(day, at, tz):
            return day
    return None


def event_url(guild_id: int, event_id: int) -> str:
    """Return the link that opens a server's scheduled event in Discord."""
    return EVENT_URL.format(guild_id=guild_id, event_id=event_id)


# -- what the scheduled-events port speaks ---------------------------------------------------

class ChannelKind(StrEnum):
    """Where a meeting happens on Discord (no channel: an external event with a location)."""

    VOICE = "voice"
    STAGE = "stage"


class EventStatus(StrEnum):
    """A Discord scheduled event's status."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELED = "canceled"


class EventOutcome(StrEnum):
    """What became of a request about a scheduled event."""

    OK = "ok"
    FORBIDDEN = "forbidden"    # the bot lacks a permission (403)
    NOT_FOUND = "not_found"    # the event (or the server) is gone (404)
    INVALID = "invalid"        # Discord refused the request itself (400)
    TRANSIENT = "transient"    # 429 / 5xx / network: worth trying again later


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A scheduled event to publish: one occurrence of a meeting."""

    name: str
    start: datetime
    end: datetime
    description: str | None
    channel_id: int | None
    channel_kind: ChannelKind | None
    location: str | None


@dataclass(frozen=True, slots=True)
class EventResult:
    """The answer to a scheduled-event request."""

    outcome: EventOutcome
    event_id: int | None = None
    status: EventStatus | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """Whether Discord did what was asked."""
        return self.outcome is EventOutcome.OK
