"""A handful of periodic sweeps; the database, not the timer, decides what is due.

APScheduler (AsyncIOScheduler, memory job store) only says "look now" every few
seconds. Each sweep asks the database for rows whose next-due instant has passed,
claims them in a transaction that also queues the outbox message, and the outbox is
then drained. Nothing here survives a restart because nothing needs to: the first
sweep after start-up finds whatever came due while the bot was down. The cost is one
timer per kind of work, not one per member.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.clock import Clock
from bot.services.outbox import OutboxService

log = logging.getLogger(__name__)

SweepFunc = Callable[[datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Sweep:
    """A periodic look for due work; returns how many items it claimed."""

    name: str
    run: SweepFunc
    every_seconds: int


class SweepScheduler:
    """Runs registered sweeps periodically, then drains the outbox."""

    def __init__(self, clock: Clock, outbox: OutboxService, *, default_seconds: int = 30) -> None:
        self.clock = clock
        self.outbox = outbox
        self.default_seconds = default_seconds
        self._sweeps: list[Sweep] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()

    def register(self, name: str, run: SweepFunc, every_seconds: int | None = None) -> None:
        """Add a sweep (before `start`)."""
        if any(s.name == name for s in self._sweeps):
            raise ValueError(f"sweep {name!r} registered twice")
        self._sweeps.append(Sweep(name, run, every_seconds or self.default_seconds))

    @property
    def sweeps(self) -> tuple[Sweep, ...]:
        """The registered sweeps."""
        return tuple(self._sweeps)

    def start(self) -> None:
        """Start periodic sweeps on the running event loop (first run immediately)."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        for sweep in self._sweeps:
            scheduler.add_job(
                self._run_one, IntervalTrigger(seconds=sweep.every_seconds), args=(sweep,),
                id=sweep.name, max_instances=1, coalesce=True, misfire_grace_time=None,
                next_run_time=None,
            )
        # Retries of transient send failures come due on their own, between sweeps.
        scheduler.add_job(self._drain, IntervalTrigger(seconds=self.default_seconds), id="outbox",
                          max_instances=1, coalesce=True, misfire_grace_time=None)
        scheduler.add_job(self.run_all_once, id="startup-catch-up", max_instances=1)
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Stop scheduling new sweeps (a sweep already running finishes its transaction)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    @property
    def running(self) -> bool:
        """Whether periodic sweeps are scheduled."""
        return self._scheduler is not None

    async def run_all_once(self) -> int:
        """Run every sweep once, then drain the outbox; return items claimed."""
        claimed = 0
        for sweep in self._sweeps:
            claimed += await self._run_sweep(sweep)
        await self._drain()
        return claimed

    async def _run_one(self, sweep: Sweep) -> None:
        await self._run_sweep(sweep)
        await self._drain()

    async def _run_sweep(self, sweep: Sweep) -> int:
        async with self._lock:
            try:
                claimed = await sweep.run(self.clock.now())
            except Exception:
                log.exception("sweep %s failed", sweep.name)
                return 0
        if claimed:
            log.info("sweep %s claimed %d item(s)", sweep.name, claimed)
        return claimed

    async def _drain(self) -> None:
        try:
            await self.outbox.dispatch()
        except Exception:
            log.exception("outbox dispatch failed")
