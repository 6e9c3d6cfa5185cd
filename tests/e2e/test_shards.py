"""A shard process against the loopback server: it connects only its shards and serves only their servers."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.config import Config
from bot.db.database import database_for
from bot.db.guilds import GuildRepository
from bot.domain.clock import FakeClock
from bot.domain.shards import Shards
from bot.fakediscord import FakeDiscord, Guild
from tests.e2e.helpers import running_kindred

MINE = Shards(4, frozenset({0, 1}))


def servers_on_four_shards(fake: FakeDiscord) -> list[Guild]:
    return [fake.add_guild(f"Circle {n}", channels=["check-ins"], shard=(n % 4, 4)) for n in range(8)]


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
