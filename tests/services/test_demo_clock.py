"""The demo's fast-forward: the running scheduler's own jobs do the work at once, not at their next boundary."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.db.database import Database
from bot.db.health import HealthRepository
from bot.demo.sandbox import Sandbox
from bot.domain.clock import ShiftedClock
from bot.scheduling.scheduler import SweepScheduler
from bot.services.container import Services

DAILY = 24 * 3600


async def test_fast_forward_runs_the_due_sweep_at_once(services: Services, db: Database) -> None:
    # The sweep is daily, so its job's next boundary is midnight UTC, hours away: only a run
    # started by the fast-forward itself comes before it. (In the demo every sweep runs each
    # minute, where waiting for the boundary passed a timing-based test now and then.)
    clock = ShiftedClock()
    scheduler = SweepScheduler(clock, services.outbox, HealthRepository(db))
    due = clock.now() + timedelta(hours=5)
    runs: list[tuple[datetime, datetime]] = []  # (the bot's clock, the wall clock) at each run
    ran = asyncio.Event()

    async def prompts(now: datetime) -> int:
        runs.append((now, datetime.now(UTC)))
        ran.set()
        return 0

    async def earliest_prompt_due() -> datetime | None:
        return None if runs and runs[-1][0] >= due else due

    scheduler.register("checkin-prompts", prompts, every_seconds=DAILY, oldest_due=earliest_prompt_due)
    sandbox = Sandbox(None, None, SimpleNamespace(services=SimpleNamespace(scheduler=scheduler)), clock)  # type: ignore[arg-type]
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)  # the catch-up run at start
        ran.clear()
        boundary = scheduler.next_runs()[f"sweeps-every-{DAILY}s"]
        assert boundary is not None

        jump = await sandbox.fast_forward()

        assert jump is not None and (jump.to, jump.reason) == (due, "the daily check-in prompt")
        try:
            await asyncio.wait_for(ran.wait(), timeout=10)
        except TimeoutError:
            pytest.fail("the fast-forward left the sweep to its next boundary (midnight UTC)")
        bot_time, wall_time = runs[-1]
        assert bot_time >= due, "the sweep saw the clock moved forward"
        assert wall_time < boundary, "it ran at once, not at the job's next boundary"
    finally:
        await scheduler.stop()
