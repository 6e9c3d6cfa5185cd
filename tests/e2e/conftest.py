"""Fixtures for end-to-end tests: the fake Discord server, a default community, and Kindred running against it.

Override `community` or `kindred_config` in a test module to change the world or the configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.fakediscord import FakeDiscord, discord_endpoints
from tests.e2e.helpers import (
    BotProcess,
    Community,
    bot_env,
    build_community,
    config_for,
    running_kindred,
)

if TYPE_CHECKING:
    from bot.app import KindredBot
    from bot.config import Config
    from bot.domain.clock import FakeClock

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with `e2e` (select with -m e2e, skip with -m "not e2e")."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A fresh fake Discord on 127.0.0.1 (free port); fails the test if the bot used a route it does not model."""
    async with FakeDiscord() as fake:
        with discord_endpoints(fake.api_base, fake.gateway_url):
            yield fake
        assert not fake.unhandled, f"the bot called routes fakediscord does not model: {fake.unhandled}"


@pytest.fixture
def community(fake_discord: FakeDiscord) -> Community:
    """Recovery Circle: #general, #check-ins, #celebrations, #mod-alerts; alice, bob, and mod (Manage Server)."""
    return build_community(fake_discord)


@pytest.fixture
def kindred_config(fake_discord: FakeDiscord, config: Config) -> Config:
    """The shared `config` (temporary database) pointed at the fake."""
    return config_for(fake_discord, config)


@pytest.fixture
async def kindred(fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> AsyncIterator[KindredBot]:
    """Kindred in this event loop, ready, commands synced globally, scheduler off (use `run_sweeps_once`)."""
    fake_discord.clock = clock.now  # the fake judges "in the past" (a scheduled event's start) by the bot's clock
    async with running_kindred(fake_discord, kindred_config, clock=clock) as bot:
        yield bot


@pytest.fixture
async def bot_process(fake_discord: FakeDiscord, community: Community, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    """Factory: ``proc = await bot_process(**env)`` starts `python -m bot run` and waits until it is ready.

    All processes share `tmp_path / "kindred.sqlite3"` (so a restart keeps the data) and are
    stopped with SIGTERM (then SIGKILL after 15 s) at teardown.
    """
    started: list[BotProcess] = []

    async def start(**extra_env: str) -> BotProcess:
        proc = BotProcess(fake_discord, bot_env(fake_discord, tmp_path / "kindred.sqlite3", **extra_env))
        started.append(proc)
        await proc.start()
        await proc.wait_ready()
        return proc

    yield start
    for proc in started:
        await proc.stop()
