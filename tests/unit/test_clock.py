"""Clocks: the demo's clock runs with the wall clock and only ever jumps forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.clock import ShiftedClock


def test_a_shifted_clock_follows_the_wall_clock_until_moved_forward() -> None:
    clock = ShiftedClock()
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
    target = before + timedelta(days=2, hours=3)
    clock.jump_to(target)
    moved = clock.now()
    assert target <= moved < target + timedelta(seconds=5)
    assert clock.now() >= moved, "it keeps running after a jump"


def test_a_shifted_clock_never_goes_back() -> None:
    clock = ShiftedClock()
    clock.jump_to(datetime.now(UTC) + timedelta(hours=5))
    ahead = clock.now()
    clock.jump_to(datetime.now(UTC))  # the past for this clock: nothing happens
    assert clock.now() >= ahead
    with pytest.raises(ValueError, match="aware"):
        clock.jump_to(datetime(2030, 1, 1))  # noqa: DTZ001 - the mistake under test
