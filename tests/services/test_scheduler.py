"""The sweep scheduler: sweeps run, a failing sweep does not stop the others, outbox drains."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.db.outbox import NewOutboxItem
from bot.domain.clock import SystemClock
from bot.domain.health import SweepRecord, sweep_finding
from bot.domain.messages import OutgoingMessage
from bot.errors import DatabaseUnavailableError
from bot.logging_setup import configure_logging
from bot.scheduling.scheduler import AlignedTrigger, SweepScheduler
from bot.services.container import Services
from bot.services.ports import NullMetrics
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
        await services.scheduler.stop()
    assert not services.scheduler.running



async def test_run_now_runs_the_jobs_again_at_once_on_the_schedulers_own_timer(services: Services) -> None:
    # The clock was moved forward (the demo's fast-forward): the running scheduler's own jobs, not a
    # manual sweep, find what came due, without waiting for the next boundary (a day, for this one).
    runs: list[datetime] = []
    changed = asyncio.Event()

    async def daily(now: datetime) -> int:
        runs.append(now)
        changed.set()
        return 0

    services.scheduler.register("daily", daily, every_seconds=24 * 3600)
    services.scheduler.start()
    try:
        await asyncio.wait_for(changed.wait(), timeout=10)  # the catch-up run at start
        changed.clear()
        await services.scheduler.run_now()
        await asyncio.wait_for(changed.wait(), timeout=10)
        assert len(runs) == 2
        assert services.scheduler.running, "the jobs stay on their boundaries afterwards"
    finally:
        await services.scheduler.stop()


async def test_a_tick_cut_short_by_the_shutdown_is_not_an_error(services: Services,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    # Stopping cancels a tick still running (APScheduler's shutdown cancels its jobs, and closing
    # the database cancels reads in flight). That is the shutdown, not a fault: nothing may be
    # logged as an error (a live-clock test's bot, whose grace is seconds of a fast clock, met it).
    entered = asyncio.Event()

    async def slow(now: datetime) -> int:
        entered.set()
        await asyncio.Event().wait()  # still running when the shutdown comes
        return 0

    services.scheduler.register("slow", slow)
    services.scheduler.start()
    await asyncio.wait_for(entered.wait(), timeout=10)
    await services.scheduler.stop(grace=0.01)
    for _ in range(10):
        await asyncio.sleep(0)  # let the cancelled job end and APScheduler report it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize(("seconds", "now", "previous", "expected"), [
    # At second 0 of every minute, whenever the process started or last ran.
    (60, datetime(2027, 3, 13, 8, 0, 45, 893651, tzinfo=UTC), None, datetime(2027, 3, 13, 8, 1, tzinfo=UTC)),
    (60, datetime(2027, 3, 13, 8, 0, 45, tzinfo=UTC), datetime(2027, 3, 13, 8, 0, 45, tzinfo=UTC),
     datetime(2027, 3, 13, 8, 1, tzinfo=UTC)),
    # Exactly on a boundary that has not fired yet: that boundary; once it has fired: the next.
    (60, datetime(2027, 3, 13, 9, 0, tzinfo=UTC), datetime(2027, 3, 13, 8, 59, tzinfo=UTC),
     datetime(2027, 3, 13, 9, 0, tzinfo=UTC)),
    (60, datetime(2027, 3, 13, 9, 0, tzinfo=UTC), datetime(2027, 3, 13, 9, 0, tzinfo=UTC),
     datetime(2027, 3, 13, 9, 1, tzinfo=UTC)),
    # A clock that read a moment earlier than the last run never fires the same boundary twice.
    (60, datetime(2027, 3, 13, 8, 59, 59, 999000, tzinfo=UTC), datetime(2027, 3, 13, 9, 0, tzinfo=UTC),
     datetime(2027, 3, 13, 9, 1, tzinfo=UTC)),
    (15, datetime(2027, 3, 13, 9, 0, 16, tzinfo=UTC), None, datetime(2027, 3, 13, 9, 0, 30, tzinfo=UTC)),
    (3600, datetime(2027, 3, 13, 9, 0, 1, tzinfo=UTC), None, datetime(2027, 3, 13, 10, 0, tzinfo=UTC)),
    (86400, datetime(2027, 3, 13, 23, 59, tzinfo=UTC), None, datetime(2027, 3, 14, 0, 0, tzinfo=UTC)),
    # The wall clock stepped back (NTP) by half an hour after the 09:01 run: the next boundary of
    # the clock as it reads now, not 09:02 half an hour away (the database decides what is due).
    (60, datetime(2027, 3, 13, 8, 30, 10, tzinfo=UTC), datetime(2027, 3, 13, 9, 1, tzinfo=UTC),
     datetime(2027, 3, 13, 8, 31, tzinfo=UTC)),
    # Any zone's "now": the boundary is an instant.
    (3600, datetime(2027, 3, 13, 9, 30, tzinfo=ZoneInfo("Asia/Kolkata")), None, datetime(2027, 3, 13, 4, 0, tzinfo=UTC)),
])
def test_aligned_trigger_fires_on_wall_clock_boundaries(seconds: int, now: datetime, previous: datetime | None,
                                                         expected: datetime) -> None:
    assert AlignedTrigger(seconds).get_next_fire_time(previous, now) == expected


@pytest.mark.parametrize("seconds", [0, -60, 7, 45, 90, 7 * 86400])
def test_aligned_trigger_refuses_intervals_that_miss_minute_boundaries(seconds: int) -> None:
    with pytest.raises(ValueError, match="dividing a minute"):
        AlignedTrigger(seconds)


class RecordingMetrics(NullMetrics):
    """The Metrics port, remembering the scheduler's calls."""

    observing = True

    def __init__(self) -> None:
        self.runs: list[tuple[str, str | None]] = []
        self.lags: dict[str, float] = {}
        self.backlog: tuple[int, float] | None = None
        self.database: list[bool] = []
        self.observed = asyncio.Event()

    def sweep_ran(self, sweep: str, interval_seconds: int, seconds: float, error: str | None) -> None:
        assert seconds >= 0 and interval_seconds == 60
        self.runs.append((sweep, error))

    def sweep_lag(self, sweep: str, seconds: float) -> None:
        self.lags[sweep] = seconds

    def outbox_backlog(self, waiting: int, oldest_age_seconds: float) -> None:
        self.backlog = (waiting, oldest_age_seconds)

    def database_state(self, available: bool) -> None:
        self.database.append(available)
        self.observed.set()


async def test_each_minute_the_scheduler_reports_runs_lag_and_backlog(services: Services) -> None:
    metrics = RecordingMetrics()
    scheduler = services.scheduler
    scheduler.metrics = metrics
    now = services.clock.now()

    async def late_work(now: datetime) -> int:
        return 0

    async def broken(now: datetime) -> int:
        raise RuntimeError("sweep bug")

    async def ten_minutes_ago() -> datetime:
        return now - timedelta(minutes=10)

    async def nothing_due() -> datetime | None:
        return None

    await services.outbox_repo.enqueue(NewOutboxItem("k:late", "t", "channel", 9, OutgoingMessage("x")),
                                       not_before=now - timedelta(minutes=5), now=now - timedelta(minutes=5))
    scheduler.register("late", late_work, oldest_due=ten_minutes_ago)
    scheduler.register("idle", late_work, oldest_due=nothing_due)
    scheduler.register("broken", broken)
    services.outbox.stop()  # sends nothing: the other intervals' first runs would drain the late message first
    scheduler.start()
    try:
        await asyncio.wait_for(metrics.observed.wait(), timeout=10)
    finally:
        await scheduler.stop()
    assert ("late", None) in metrics.runs and ("broken", "RuntimeError") in metrics.runs
    assert metrics.lags["late"] == 600 and metrics.lags["idle"] == 0 and "broken" not in metrics.lags
    assert metrics.backlog == (1, 300)
    assert metrics.database == [True]


async def test_log_lines_of_a_sweep_name_it(services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook, sys.unraisablehook

    async def chatty(now: datetime) -> int:
        logging.getLogger("bot.services.example").warning("looking at %d rows", 3)
        return 0

    services.scheduler.register("chatty", chatty)
    configure_logging("INFO", "json")
    try:
        await services.scheduler.run_all_once()
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        sys.excepthook, threading.excepthook, sys.unraisablehook = hooks
        logging.captureWarnings(False)
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "looking at" in line]
    assert line["sweep"] == "chatty" and line["message"] == "looking at 3 rows"


class _Outbox:
    """An outbox that only counts drains."""

    def __init__(self) -> None:
        self.drains = 0

    def stop(self) -> None:
        """Nothing to stop."""

    async def dispatch(self) -> int:
        self.drains += 1
        return 0


class _Health:
    async def record(self, records: object) -> None:
        """Keep nothing."""


def bare_scheduler(**options: object) -> tuple[SweepScheduler, _Outbox]:
    outbox = _Outbox()
    return SweepScheduler(SystemClock(), outbox, _Health(), **options), outbox  # type: ignore[arg-type]


async def drained(scheduler: SweepScheduler, outbox: _Outbox) -> int:
    """Let the drainer act on the ticks so far; return how many drains ran."""
    drainer = asyncio.create_task(scheduler._drain_loop())
    await asyncio.sleep(0.05)
    scheduler._stopping = True
    scheduler._drain_wanted.set()
    await asyncio.wait_for(drainer, 5)
    return outbox.drains


async def test_the_minutes_drain_does_not_wait_for_health_reporting_nor_stop_when_it_fails() -> None:
    class SlowOps:
        async def observe(self, *args: object, **kwargs: object) -> None:
            await asyncio.sleep(3600)  # the ops channel's POST stuck behind a long 429

    async def prompts(now: datetime) -> int:
        return 5

    async def unreadable() -> datetime | None:
        raise ValueError("a stored instant that does not parse")

    scheduler, outbox = bare_scheduler(ops=SlowOps())
    scheduler.register("checkin-prompts", prompts, oldest_due=unreadable)
    await asyncio.wait_for(scheduler._tick(60), 5)  # the health report gives up; the tick ends
    assert scheduler._drain_wanted.is_set()
    assert await drained(scheduler, outbox) == 1


async def test_an_hourly_sweep_that_failed_is_tried_again_at_the_next_minute_not_an_hour_later() -> None:
    calls: list[str] = []

    async def nudges(now: datetime) -> int:
        calls.append("nudges")
        if len(calls) == 1:
            raise DatabaseUnavailableError("locked by a backup for a moment")
        return 0

    async def prompts(now: datetime) -> int:
        return 0

    scheduler, _ = bare_scheduler()
    scheduler.register("checkin-prompts", prompts)
    scheduler.register("buddy-nudges", nudges, every_seconds=3600)
    await scheduler._tick(3600)
    assert calls == ["nudges"] and scheduler._last["buddy-nudges"].last_error == "DatabaseUnavailableError"
    await scheduler._tick(60)  # the next minute
    assert calls == ["nudges", "nudges"] and scheduler._last["buddy-nudges"].last_error is None
    await scheduler._tick(60)
    assert calls == ["nudges", "nudges"], "a sweep that succeeded waits for its own hour again"


def test_a_sweep_that_never_succeeded_says_so() -> None:
    now = datetime(2027, 1, 12, 0, 1, tzinfo=UTC)
    record = SweepRecord("retention-purge", 86400, now, now, None, "DatabaseUnavailableError")
    assert sweep_finding(now, "retention-purge", 86400, record, None).detail == \
        "failing (DatabaseUnavailableError); it has never succeeded"
