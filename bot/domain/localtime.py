"""Local calendar days and wall-clock times in IANA zones.

Every "day" in Kindred is a member's or server's local calendar day. Schedules are
stored as a local wall time plus an IANA zone and turned into UTC instants one local
date at a time, never by adding 24 hours, so a DST change can neither skip a day nor
produce two occurrences of one day:

* a wall time that does not exist on a spring-forward date (02:30 in New York in March)
  happens at the same distance after the gap opens (03:30 local), once;
* a wall time that exists twice on a fall-back date happens at its first occurrence.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_HHMM = re.compile(r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class InvalidTimezoneError(ValueError):
    """A string that is not an IANA time zone name."""


class InvalidTimeOfDayError(ValueError):
    """A string that is not a 24-hour HH:MM time."""


class InvalidDateError(ValueError):
    """A string that is not a real YYYY-MM-DD calendar date."""


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name, refusing offsets, paths and unknown names."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise InvalidTimezoneError(name)
    if name not in _zone_names():
        raise InvalidTimezoneError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise InvalidTimezoneError(name) from exc


def is_valid_zone(name: str) -> bool:
    """Tell whether `name` is a usable IANA zone name."""
    try:
        zone(name)
    except InvalidTimezoneError:
        return False
    return True


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _suggestable_zones() -> tuple[str, ...]:
    # Area/City names are what people recognise; legacy aliases (EST5EDT, US/Eastern…)
    # still validate but are not suggested.
    areas = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/",
             "Europe/", "Indian/", "Pacific/")
    names = [n for n in _zone_names() if n.startswith(areas)]
    return tuple(sorted(names)) + ("UTC",)


def suggest_zones(text: str, limit: int = 25) -> list[str]:
    """Return zone names matching what someone has typed so far, best first."""
    needle = text.strip().lower().replace(" ", "_")
    if not needle:
        return list(_suggestable_zones()[:limit])
    prefix: list[str] = []
    city_prefix: list[str] = []
    contains: list[str] = []
    for name in _suggestable_zones():
        low = name.lower()
        city = low.rsplit("/", 1)[-1]
        if low.startswith(needle):
            prefix.append(name)
        elif city.startswith(needle):
            city_prefix.append(name)
        elif needle in low:
            contains.append(name)
    return (prefix + city_prefix + contains)[:limit]


def parse_hhmm(text: str) -> time:
    """Parse a 24-hour `HH:MM` string."""
    match = _HHMM.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidTimeOfDayError(text)
    return time(int(match["h"]), int(match["m"]))


def format_hhmm(value: time) -> str:
    """Format a time of day as `HH:MM`."""
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_iso_date(text: str) -> date:
    """Parse a strict `YYYY-MM-DD` calendar date."""
    if not isinstance(text, str) or _ISO_DATE.fullmatch(text.strip()) is None:
        raise InvalidDateError(text)
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidDateError(text) from exc


def local_now(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the wall-clock reading of `instant` in `tz`."""
    return _aware(instant).astimezone(tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """Return the local calendar date of an instant in a zone."""
    return local_now(instant, tz).date()


def occurrence_on(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Return the UTC instant at which local wall time `at` happens on local `day`.

    Non-existent wall times (spring-forward gap) resolve with the pre-transition offset,
    which lands the same distance after the gap opens; ambiguous ones (fall-back) take
    the first occurrence (fold=0).
    """
    wall = datetime.combine(day, at, tzinfo=tz)
    instant = wall.astimezone(UTC)
    return instant


def next_occurrence(after: datetime, at: time, tz: ZoneInfo) -> datetime:
    """Return the first UTC instant strictly after `after` with local wall time `at`."""
    day = local_date(after, tz)
    for offset in range(0, 3):
        candidate = occurrence_on(day + timedelta(days=offset), at, tz)
        if candidate > _aware(after):
            return candidate
    raise AssertionError("unreachable: a wall time recurs within three local days")  # pragma: no cover


def latest_due_date(now: datetime, at: time, tz: ZoneInfo) -> date | None:
    """Return today's local date if today's `at` has already happened, else None.

    This is the "late, once, the same local day" rule: work whose time passed earlier
    in the current local day is still due; yesterday's is not.
    """
    today = local_date(now, tz)
    if occurrence_on(today, at, tz) <= _aware(now):
        return today
    return None


def in_quiet_hours(wall: time, start: time | None, end: time | None) -> bool:
    """Tell whether a local wall time falls inside quiet hours [start, end).

    Quiet hours may wrap past midnight (22:00–07:00). Equal start and end mean none.
    """
    if start is None or end is None or start == end:
        return False
    wall = wall.replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def quiet_hours_end(now: datetime, tz: ZoneInfo, start: time | None, end: time | None) -> datetime:
    """Return when the quiet period containing `now` ends (or `now` if not in one)."""
    wall = local_now(now, tz)
    if end is None or not in_quiet_hours(wall.time(), start, end):
        return _aware(now)
    return next_occurrence(now, end, tz)


def to_utc_text(instant: datetime) -> str:
    """Serialise an instant as UTC ISO-8601 text for the database."""
    return _aware(instant).astimezone(UTC).isoformat(timespec="seconds")


def from_utc_text(text: str) -> datetime:
    """Parse UTC ISO-8601 text written by `to_utc_text`."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: Kindred only handles aware instants")
    return instant
