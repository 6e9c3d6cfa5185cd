"""The sweep scheduler: sweeps run, a failing sweep does not stop the others, outbox drains."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot.db.outbox import NewOutboxItem
from bot.domain.messages import OutgoingMessage
from bot.services.container import Services
from tests.support import RecordingNotifier


async def test_run_all_once_runs_each_sweep_with_clock_time_then_drains(services: Services,
                                                                         notifier: RecordingNotifier) -> None:
    seen: list[tuple[str, datetime]] = []

    async def broken(now: datetime) -> int:
        raise RuntimeError("sweep bug")

    async def queues_one(now: datetime) -> int:
        seen.append(("queues", now))
        await services.outbox_repo.enqueue(NewOutboxItem(f"k:{now.isoformat()}", "t", "channel", 9, OutgoingMessage("x")),
                                           not_before=now, now=now)
        return 1

    services.scheduler.register("broken", broken)
    services.scheduler.register("queues", queues_one)
    assert await services.scheduler.run_all_once() == 1
    assert seen == [("queues", services.clock.now())]
    assert len(notifier.posts_in(9)) == 1


async def test_duplicate_sweep_names_are_refused(services: Services) -> None:
    async def noop(now: datetime) -> int:
        return 0

    services.scheduler.register("a", noop)
    with pytest.raises(ValueError, match="twice"):
        services.scheduler.register("a", noop)


async def test_start_catches_up_immediately_and_shutdown_stops(services: Services) -> None:
    ran = asyncio.Event()

    async def sweep(now: datetime) -> int:
        ran.set()
        return 0

    services.scheduler.register("catch-up", sweep, every_seconds=3600)
    services.scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=10)
        assert services.scheduler.running
    finally:
        services.scheduler.shutdown()
    assert not services.scheduler.running
