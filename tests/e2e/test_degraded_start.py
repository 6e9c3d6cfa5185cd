"""Crisis help never depends on the database: the bot starts and serves /crisis without one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord
from bot.tree import DATABASE_TROUBLE
from tests.e2e.helpers import Community, running_kindred


async def test_starts_without_a_database_serves_crisis_and_recovers(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    config = dataclasses.replace(kindred_config, database_path=blocker / "kindred.sqlite3")
    alice, guild = community.alice, community.guild
    async with running_kindred(fake_discord, config, clock=clock) as bot:
        crisis = await (await fake_discord.slash("/crisis", user=alice, guild=guild, country="GB")).reply()
        assert crisis.ephemeral and "999" in crisis.text and "116 123" in crisis.text
        refused = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3)).reply()
        assert refused.ephemeral and refused.text == DATABASE_TROUBLE

        blocker.unlink()  # the disk comes back
        assert await bot.try_open_database()
        stored = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3)).reply()
        assert stored.ephemeral and stored.text != DATABASE_TROUBLE
        assert await bot.db.fetch_value("SELECT count(*) FROM checkins") == 1


async def test_the_ops_channel_hears_when_the_bot_starts_without_its_database_and_when_it_is_back(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        tmp_path: Path) -> None:
    ops = fake_discord.add_channel(community.guild, "ops")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    config = dataclasses.replace(
        kindred_config, database_path=blocker / "kindred.sqlite3",
        bot=dataclasses.replace(kindred_config.bot, ops_channel_id=ops.id),
        scheduler=dataclasses.replace(kindred_config.scheduler, sweep_seconds=5))  # the retry's pace

    def notices() -> list[str]:
        return [m.content for m in fake_discord.messages_in(ops) if m.content.startswith(("⚠️", "✅"))]

    async with running_kindred(fake_discord, config, clock=clock, start_scheduler=True):
        await fake_discord.wait_for(notices, what="the database notice")
        blocker.unlink()  # the disk comes back; the bot's own retry finds it
        await fake_discord.wait_for(lambda: len(notices()) == 2, timeout=20, what="the recovery notice")
    assert notices() == ["⚠️ Kindred: database — unreachable. `python -m bot status` on the host shows more.",
                         "✅ Kindred: database has recovered."]
