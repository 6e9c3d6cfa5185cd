"""A shard process against the loopback server: it connects only its shards and serves only their servers."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.db.database import POSTGRESQL, database_for
from bot.db.guilds import GuildRepository
from bot.domain.clock import FakeClock
from bot.domain.shards import Shards
from bot.fakediscord import FakeDiscord, Guild
from tests.e2e.helpers import bot_env, run_cli, running_kindred
from tests.support import end_shard_session, take_back_only_after, until

MINE = Shards(4, frozenset({0, 1}))


def servers_on_four_shards(fake: FakeDiscord) -> list[Guild]:
    return [fake.add_guild(f"Circle {n}", channels=["check-ins"], shard=(n % 4, 4)) for n in range(8)]


def four_shards_on_postgres(fake: FakeDiscord, config: Config, backend: str) -> str:
    """Skip on SQLite; give the fake four shards of servers; return the database URL."""
    if backend != POSTGRESQL:
        pytest.skip("several processes need PostgreSQL (a subset of shards on SQLite is refused by check-config)")
    fake.shard_count = 4
    servers_on_four_shards(fake)
    assert config.database_url is not None
    return config.database_url


async def test_a_shard_process_connects_its_shards_and_posts_only_its_servers_prompts(
        fake_discord: FakeDiscord, kindred_config: Config, clock: FakeClock) -> None:
    fake = fake_discord
    fake.shard_count = 4
    servers = servers_on_four_shards(fake)
    mine = [g for g in servers if MINE.owns(g.id)]
    # The other process has recorded its servers already.
    async with database_for(kindred_config) as db:
        await db.migrate()
        await GuildRepository(db).mark_present([g.id for g in servers], clock.now())
    async with running_kindred(fake, dataclasses.replace(kindred_config, shards=MINE), clock=clock) as bot:
        assert sorted(tuple(r.data["shard"]) for r in fake.gateway.received(2)) == [(0, 4), (1, 4)]
        assert {g.id for g in bot.guilds} == {g.id for g in mine}
        assert bot.gateway_connected()
        # READY told this process about its shards' servers only: another shard's server is not "left".
        assert await bot.db.fetch_value("SELECT count(*) FROM guilds WHERE left_at IS NOT NULL") == 0
        # Every server's prompt is set (as its own shard's process would have done), and comes due.
        for guild in servers:
            await bot.services.guild_config.set_checkins(guild.id, channel_id=guild.channel("check-ins").id,
                                                         time="11:00", timezone="Europe/London")
        clock.advance(timedelta(hours=1, minutes=1))
        await bot.run_sweeps_once()
    posted = {g.id for g in servers if fake.messages_in(g.channel("check-ins"))}
    assert posted == {g.id for g in mine}


async def test_a_second_process_for_a_shard_already_run_is_refused_in_one_line(
        fake_discord: FakeDiscord, kindred_config: Config, clock: FakeClock, backend: str, tmp_path: Path) -> None:
    url = four_shards_on_postgres(fake_discord, kindred_config, backend)
    async with running_kindred(fake_discord, dataclasses.replace(kindred_config, shards=MINE), clock=clock):
        identified = len(fake_discord.gateway.received(2))
        env = bot_env(fake_discord, tmp_path / "unused.sqlite3", KINDRED_DATABASE_URL=url,
                      KINDRED_SHARD_COUNT="4", KINDRED_SHARD_IDS="1-2")
        code, output = await run_cli("run", env=env)
        assert len(fake_discord.gateway.received(2)) == identified, "it must not connect to Discord"
    assert code == 2
    *logged, line = [line for line in output.splitlines() if line.strip()]
    assert "shard 1 of 4 is already run by another Kindred process" in line and "KINDRED_SHARD_IDS" in line
    assert all(" INFO " in entry for entry in logged), logged  # the log at INFO; no traceback


async def test_after_its_shard_session_ends_a_running_process_still_keeps_a_second_one_out(
        fake_discord: FakeDiscord, kindred_config: Config, clock: FakeClock, backend: str, tmp_path: Path) -> None:
    url = four_shards_on_postgres(fake_discord, kindred_config, backend)
    async with running_kindred(fake_discord, dataclasses.replace(kindred_config, shards=MINE), clock=clock) as bot:
        ended = bot.db._shard_holder  # type: ignore[attr-defined]
        await end_shard_session(bot.db)
        await until(lambda: bot.db._shard_holder not in (None, ended))  # type: ignore[attr-defined]
        identified = len(fake_discord.gateway.received(2))
        env = bot_env(fake_discord, tmp_path / "unused.sqlite3", KINDRED_DATABASE_URL=url,
                      KINDRED_SHARD_COUNT="4", KINDRED_SHARD_IDS="1-2")
        code, output = await run_cli("run", env=env, timeout=45)
        assert len(fake_discord.gateway.received(2)) == identified, "it must not connect to Discord"
        assert not bot.is_closed()
    assert code == 2
    assert "shard 1 of 4 is already run by another Kindred process" in output.strip().splitlines()[-1]


async def test_a_process_whose_shards_another_took_meanwhile_stops_saying_why(
        fake_discord: FakeDiscord, kindred_config: Config, clock: FakeClock, backend: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.db.postgres

    four_shards_on_postgres(fake_discord, kindred_config, backend)
    monkeypatch.setattr(bot.db.postgres, "SHARD_WAIT", 0.5)
    other = database_for(dataclasses.replace(kindred_config, shards=Shards(4, frozenset({1}))))
    async with running_kindred(fake_discord, dataclasses.replace(kindred_config, shards=MINE), clock=clock) as bot:
        taken = take_back_only_after(bot.db)  # the other process gets in first
        await other.open()
        try:
            await end_shard_session(bot.db)
            await other.hold_shards(wait=30)
            taken.set()
            await until(bot.is_closed)
        finally:
            await other.close()
    assert bot.fatal is not None and "shard 1 of 4 is already run by another Kindred process" in str(bot.fatal)
