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


async def test_an_urge_is_surfed_without_a_database(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    config = dataclasses.replace(kindred_config, database_path=blocker / "kindred.sqlite3")
    alice, guild = community.alice, community.guild
    async with running_kindred(fake_discord, config, clock=clock):
        reply = await (await fake_discord.slash("/urge", user=alice, guild=guild, strength=9)).reply()
        # Every step, the HALT check and /crisis, from memory; only the check-back needs records.
        assert reply.ephemeral and "Surf the urge" in reply.text and "Things that often help" in reply.text
        assert "couldn't set a check-back" in reply.text and "/crisis" in reply.text
        assert reply.custom_ids == [f"kindred:urge:halt:0:{need}" for need in "halt"]
        tired = await (await fake_discord.click(reply, user=alice, custom_id="kindred:urge:halt:0:t")).reply()
        assert tired.ephemeral and "Rest" in tired.text
        assert fake_discord.dms_to(alice) == []


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
