"""Fixtures for live-clock tests: the real bot process on a fast-forwarded clock (see support.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from bot.fakediscord import FakeDiscord
from tests.e2e.conftest import community, fake_discord  # noqa: F401 - fixtures shared with e2e
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli
from tests.live.support import LiveClock, LiveKindred, find_libfaketime, pace_heartbeats

HERE = Path(__file__).parent
LiveStarter = Callable[..., Awaitable[LiveKindred]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/live with `live` and `slow` (each runs a bot process for a while).

    On several pytest-xdist workers (`-n 2`, with `--dist loadgroup` from pyproject's addopts) the
    live level runs on one worker, one test at a time: each test's bot runs on a fast clock, and two
    of them side by side on two cores would starve each other's timing.
    """
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.live)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("live"))


@pytest.fixture
def libfaketime() -> Path:
    """The libfaketime library; CI (KINDRED_REQUIRE_FAKETIME=1) fails instead of skipping without it."""
    library = find_libfaketime()
    if library is None:
        message = "libfaketime is not installed (Debian: apt-get install faketime); live-clock tests need it"
        if os.environ.get("KINDRED_REQUIRE_FAKETIME") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return library


@pytest.fixture
async def live(fake_discord: FakeDiscord, community: Community, tmp_path: Path,  # noqa: F811
               libfaketime: Path, database_url: str | None) -> AsyncIterator[LiveStarter]:
    """Factory: ``kindred = await live(start, rate=60, config="...")`` syncs the commands, then starts
    `python -m bot run` with its clock at `start` running `rate` times faster, and waits until it is ready.

    Add servers, members and faults to `fake_discord` before starting. The process is stopped with
    SIGTERM at teardown. A live test runs on SQLite; one that takes `backend` as an argument runs
    on PostgreSQL too (tests/conftest.py).
    """
    started: list[BotProcess] = []
    running: list[LiveKindred] = []

    async def start(at: datetime, *, rate: float = 60, config: str | None = None, **extra_env: str) -> LiveKindred:
        database = tmp_path / "kindred.sqlite3"
        if config is not None:
            (tmp_path / "config.toml").write_text(config)
            extra_env.setdefault("KINDRED_CONFIG", str(tmp_path / "config.toml"))
        if database_url is not None:
            extra_env.setdefault("KINDRED_DATABASE_URL", database_url)
        env = bot_env(fake_discord, database, **extra_env)
        code, output = await run_cli("sync", env=env)
        assert code == 0, output
        pace_heartbeats(fake_discord, rate)
        clock = LiveClock(tmp_path / "faketime.rc", libfaketime, at, rate)
        fake_discord.clock = clock.now  # "in the past" (a scheduled event's start) by the bot's clock
        proc = BotProcess(fake_discord, {**env, **clock.env()})
        started.append(proc)
        await proc.start()
        await proc.wait_ready()
        running.append(LiveKindred(fake_discord, community, proc, clock, database, database_url,
                                   processes=started))
        return running[-1]

    yield start
    for kindred in running:
        kindred.close()
    for proc in started:
        await proc.stop()
    for proc in started:
        first = next((i for i, line in enumerate(proc.lines) if " ERROR " in line or "Traceback" in line), None)
        assert first is None, "the bot logged errors while its clock ran:\n" + "".join(proc.lines[first:first + 80])
