"""Clocks: the only way services learn the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current instant."""

    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when a test tells it to."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)

    def now(self) -> datetime:
        """Return the fake current instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to an instant (forwards or backwards)."""
        self._now = _require_aware(instant)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` and return the new instant."""
        self._now = self._now + delta
        return self._now


class ShiftedClock:
    """The wall clock, moved forward by however far it was fast-forwarded (`python -m bot demo`)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Return the wall clock's instant plus the offset."""
        return datetime.now(UTC) + self._offset

    def jump_to(self, instant: datetime) -> datetime:
        """Move forward to `instant` and go on running from there; an instant already passed changes nothing."""
        ahead = _require_aware(instant) - self.now()
        if ahead > timedelta(0):  # only forward: what was sent stays sent, as on a real clock
            self._offset += ahead
        return self.now()


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("clock instants must be timezone-aware")
    return instant.astimezone(UTC)
