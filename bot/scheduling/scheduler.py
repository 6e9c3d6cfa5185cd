"""A handful of sweeps on wall-clock boundaries; the database, not the timer, decides what is due.

APScheduler (AsyncIOScheduler, memory job store) only says "look now". Sweeps that share an
interval run together in one job whose runs are aligned to the wall clock (every minute at
second 0, every hour at minute 0, every day at 00:00 UTC), so work due at 09:00 starts in the
first seconds of 09:00. Each sweep asks the database for rows whose next-due instant has
passed, claims them in a transaction that also queues the outbox message, and the outbox is
drained right after. Every job also runs once at start-up, which finds whatever came due
while the bot was down. The cost is one job per interval, not one timer per member.

Each run is recorded in `sweep_health` (and, every minute, whether the gateway is connected),
so `python -m bot status` and the ops channel can see a process whose timers stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.db.health import HealthRepository
from bot.domain.clock import Clock
from bot.domain.health import GATEWAY, GATEWAY_INTERVAL_SECONDS, STOPPED, SweepRecord
from bot.errors import DatabaseUnavailableError
from bot.logging_setup import log_context
from bot.scheduling.ops import OpsNotices
from bot.services.outbox import OutboxService
from bot.services.ports import Metrics, NullMetrics

log = logging.getLogger(__name__)

SweepFunc = Callable[[datetime], Awaitable[int]]
DueFunc = Callable[[], Awaitable[datetime | None]]
# Runs are aligned to multiples of their interval counted from here (a Monday at 00:00 UTC),
# so a 60-second sweep runs at second 0 of every minute whenever the process started.
ALIGNMENT = datetime(2001, 1, 1, tzinfo=UTC)
HEALTH_REPORT_SECONDS = 20.0  # an ops notice or a lag query that takes longer is given up for this minute
VALID_INTERVALS = "seconds dividing a minute, or whole minutes dividing a day (e.g. 30, 60, 3600, 86400)"


class AlignedTrigger(BaseTrigger):
    """Fire on every multiple of `seconds` counted from ALIGNMENT: at second 0 of each minute for 60.

    APScheduler's IntervalTrigger counts from the previous run instead, so a job first run at
    start-up (08:00:45) would go on running at 45 seconds past every minute.
    """

    def __init__(self, seconds: int) -> None:
        _check_interval(seconds)
        self.interval = timedelta(seconds=seconds)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """Return the first boundary at or after `now`, and after the previous run.

        If the wall clock stepped back by more than an interval (NTP, a VM restored), the clock
        as it reads now counts: waiting for the boundary after the previous run would stall
        every sweep for as long as the step. Running a boundary again is harmless: the
        database, not the timer, decides what is due.
        """
        after = now
        if previous_fire_time is not None and previous_fire_time - now < self.interval:
            after = max(now, previous_fire_time + timedelta(microseconds=1))
        elapsed = after - ALIGNMENT
        boundaries = -(-elapsed // self.interval)  # ceiling division of timedeltas
        return ALIGNMENT + boundaries * self.interval

    def __str__(self) -> str:
        return f"every {int(self.interval.total_seconds())}s on the boundary"


@dataclass(frozen=True, slots=True)
class Sweep:
    """A periodic look for due work; `run` returns how many items it claimed."""

    name: str
    run: SweepFunc
    every_seconds: int
    oldest_due: DueFunc | None = None  # the earliest due instant not yet handled, for health checks


class SweepScheduler:
    """Runs registered sweeps on wall-clock boundaries, records each run, then drains the outbox."""

    def __init__(self, clock: Clock, outbox: OutboxService, health: HealthRepository, *,
                 default_seconds: int = 60, ops: OpsNotices | None = None, metrics: Metrics | None = None) -> None:
        _check_interval(default_seconds)
        self.clock = clock
        self.outbox = outbox
        self.health = health
        self.default_seconds = default_seconds
        self.ops = ops
        self.metrics = metrics or NullMetrics()
        # Tells whether the gateway connection is up; set by the bot (the scheduler knows no Discord).
        self.gateway_probe: Callable[[], bool] | None = None
        self._sweeps: list[Sweep] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[str] = set()  # sweeps running now (a retry never overlaps the sweep's own run)
        self._last: dict[str, SweepRecord] = {}
        self._ticks_running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._drain_wanted = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self, name: str, run: SweepFunc, every_seconds: int | None = None, *,
                 oldest_due: DueFunc | None = None) -> None:
        """Add a sweep (before `start`)."""
        if any(s.name == name for s in self._sweeps):
            raise ValueError(f"sweep {name!r} registered twice")
        every = every_seconds or self.default_seconds
        _check_interval(every)
        self._sweeps.append(Sweep(name, run, every, oldest_due))

    @property
    def sweeps(self) -> tuple[Sweep, ...]:
        """The registered sweeps."""
        return tuple(self._sweeps)

    @property
    def minute_interval(self) -> int:
        """The shortest interval: its job also records the gateway, retries failed sweeps and checks health."""
        return min([s.every_seconds for s in self._sweeps] + [self.default_seconds])

    def _groups(self) -> dict[int, list[Sweep]]:
        groups: dict[int, list[Sweep]] = {self.minute_interval: []}
        for sweep in self._sweeps:
            groups.setdefault(sweep.every_seconds, []).append(sweep)
        return groups

    def start(self) -> None:
        """Start the aligned jobs on the running event loop; each runs once at once, to catch up."""
        if self._scheduler is not None:
            return
        self._stopping = False
        scheduler = AsyncIOScheduler(timezone=UTC)
        for every in sorted(self._groups()):
            scheduler.add_job(
                self._tick, AlignedTrigger(every), args=(every,),
                id=f"sweeps-every-{every}s", name=f"sweeps every {every}s",
                max_instances=1, coalesce=True, misfire_grace_time=None,
                next_run_time=datetime.now(UTC),  # now, then on the boundaries (None would add it paused)
            )
        scheduler.start()
        self._scheduler = scheduler
        self._drainer = asyncio.create_task(self._drain_loop(), name="kindred-outbox-drainer")

    async def run_now(self) -> None:
        """Run every job at once, as at start-up, then go on on the boundaries (the clock was moved forward)."""
        # A job still running would make APScheduler skip this run (one instance at a time) until
        # its next boundary, a day away for the daily job: let the running tick finish first.
        await self._idle.wait()
        if self._scheduler is None:
            return
        now = datetime.now(UTC)
        for job in self._scheduler.get_jobs():
            job.modify(next_run_time=now)  # APScheduler's own run: recorded, one at a time, then drained

    @property
    def running(self) -> bool:
        """Whether the aligned jobs are scheduled."""
        return self._scheduler is not None and bool(self._scheduler.get_jobs())

    def next_runs(self) -> dict[str, datetime | None]:
        """The next run of each job (for logs and tests)."""
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    async def stop(self, grace: float = 10.0) -> None:
        """Schedule nothing more, let a running sweep and the send in flight finish (up to `grace` s), stop."""
        self._stopping = True
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # Paused, not shut down yet: APScheduler's asyncio executor cancels the jobs still
            # running when it shuts down, which would cut a sweep off inside its transaction.
            scheduler.pause()
        self.outbox.stop()
        self._drain_wanted.set()  # wakes the drainer so it can see it is stopping
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._idle.wait())}
        if self._drainer is not None:
            waits.add(self._drainer)
        _, pending = await asyncio.wait(waits, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("stopped with scheduled work still running after %.0f s", grace)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self._drainer = None
        if self.gateway_probe is not None:  # a running bot's scheduler: say it stopped, so status need not wait
            await self._save([self._gateway_record(stopped=True)])

    async def run_all_once(self) -> int:
        """Run every sweep once, record it, then drain the outbox; return items claimed (tests drive time so)."""
        claimed = 0
        records = []
        for sweep in self._sweeps:
            ran = await self._run_sweep(sweep)
            if ran is not None:
                records.append(ran[0])
                claimed += ran[1]
        await self._save(records)
        await self._drain()
        return claimed

    # -- the jobs --------------------------------------------------------------------------

    @contextmanager
    def _busy(self) -> Iterator[None]:
        self._ticks_running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._ticks_running -= 1
            if self._ticks_running == 0:
                self._idle.set()

    async def _tick(self, every: int) -> None:
        with self._busy():
            try:
                await self._run_group(every)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # The shutdown cancelled a tick still running after the grace (APScheduler's
                # shutdown cancels its jobs; closing the database cancels reads in flight). Its
                # transaction rolled back, so nothing is lost: every sweep runs again at once when
                # the process starts.
                log.info("sweeps every %ds cut short by the shutdown", every)

    async def _run_group(self, every: int) -> None:
        minute = every == self.minute_interval
        sweeps = self._groups()[every]
        if minute:  # an hourly or daily sweep that failed is tried again now, not an hour or a day later
            sweeps = sweeps + [s for s in self._sweeps if s.every_seconds != every
                               and s.name in self._last and self._last[s.name].last_error is not None]
        records = []
        for sweep in sweeps:
            if self._stopping:
                return
            ran = await self._run_sweep(sweep)
            if ran is not None:
                records.append(ran[0])
        if minute:
            records.append(self._gateway_record())
        saved = await self._save(records)
        self._drain_wanted.set()  # first: nothing below may hold up what the sweeps queued
        if minute and not self._stopping:
            database_ok = saved and all(r.last_error != DatabaseUnavailableError.__name__ for r in records)
            try:
                async with asyncio.timeout(HEALTH_REPORT_SECONDS):
                    await self._report_health(database_ok)
            except Exception:
                log.warning("could not report health this minute", exc_info=True)

    def _gateway_record(self, *, stopped: bool = False) -> SweepRecord:
        now = self.clock.now()
        connected = not stopped and self.gateway_probe is not None and self.gateway_probe()
        error = STOPPED if stopped else None if connected else "Disconnected"
        return SweepRecord(GATEWAY, GATEWAY_INTERVAL_SECONDS, now, now, now if connected else None, error)

    async def record_gateway(self) -> None:
        """Record the gateway's state now (on READY and RESUMED, not only at the next minute)."""
        await self._save([self._gateway_record()])

    async def _run_sweep(self, sweep: Sweep) -> tuple[SweepRecord, int] | None:
        """Run a sweep and return its record and claimed count; None if it is running already."""
        if sweep.name in self._running:
            return None
        self._running.add(sweep.name)
        try:
            return await self._run_sweep_once(sweep)
        finally:
            self._running.discard(sweep.name)

    async def _run_sweep_once(self, sweep: Sweep) -> tuple[SweepRecord, int]:
        started = self.clock.now()
        began = time.perf_counter()
        error, claimed = None, 0
        previous = self._last.get(sweep.name)
        with log_context(sweep=sweep.name):
            try:
                claimed = await sweep.run(started)
            except DatabaseUnavailableError:
                error = DatabaseUnavailableError.__name__
                self.metrics.database_unavailable("sweep")
                log.warning("sweep %s: database unavailable", sweep.name)
            except Exception as exc:
                error = type(exc).__name__
                if previous is not None and previous.last_error == error:
                    log.error("sweep %s still failing (%s)", sweep.name, error)  # the traceback was logged once
                else:
                    log.exception("sweep %s failed", sweep.name)
            finished = self.clock.now()
            self.metrics.sweep_ran(sweep.name, sweep.every_seconds, time.perf_counter() - began, error)
            if claimed:
                log.info("sweep %s claimed %d item(s)", sweep.name, claimed)
        record = SweepRecord(sweep.name, sweep.every_seconds, started, finished,
                             finished if error is None else None, error)
        self._last[sweep.name] = record
        return record, claimed

    async def _save(self, records: list[SweepRecord]) -> bool:
        try:
            await self.health.record(records)
        except DatabaseUnavailableError:
            log.warning("could not record sweep health: database unavailable")
            return False
        return True

    async def _report_health(self, database_ok: bool) -> None:
        """Read how late due work is (each sweep's, the outbox's) for the ops channel and the metrics."""
        if self.ops is None and not self.metrics.observing:
            return
        now = self.clock.now()
        oldest: dict[str, datetime | None] = {}
        if database_ok:
            try:
                for sweep in self._sweeps:
                    if sweep.oldest_due is not None:
                        oldest[sweep.name] = await sweep.oldest_due()
                if self.metrics.observing:
                    waiting, oldest_message = await self.outbox.outbox.backlog(now)
                    self.metrics.outbox_backlog(
                        waiting, 0.0 if oldest_message is None else (now - oldest_message).total_seconds())
            except DatabaseUnavailableError:
                database_ok = False
        self.metrics.database_state(database_ok)
        if database_ok:
            for name, due in oldest.items():
                self.metrics.sweep_lag(name, 0.0 if due is None else (now - due).total_seconds())
        if self.ops is not None:
            await self.ops.observe(now, [(s.name, s.every_seconds) for s in self._sweeps], self._last,
                                   oldest, database_ok=database_ok)

    async def _drain_loop(self) -> None:
        while not self._stopping:
            await self._drain_wanted.wait()
            self._drain_wanted.clear()
            if not self._stopping:
                await self._drain()

    async def _drain(self) -> None:
        with log_context(sweep="outbox"):
            try:
                await self.outbox.dispatch()
            except DatabaseUnavailableError:
                self.metrics.database_unavailable("outbox")
                log.warning("outbox dispatch: database unavailable")
            except Exception:
                log.exception("outbox dispatch failed")


def _check_interval(seconds: int) -> None:
    """Refuse an interval whose runs would not fall on minute boundaries (or hours, or days)."""
    aligned = 0 < seconds and (60 % seconds == 0 or (seconds % 60 == 0 and 86400 % seconds == 0))
    if not aligned:
        raise ValueError(f"a sweep interval must be {VALID_INTERVALS}, got {seconds}")
