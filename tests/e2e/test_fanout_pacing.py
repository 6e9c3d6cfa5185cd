"""Many servers' prompts at once stay under Discord's global rate limit (no 429s to react to)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import running_kindred

SERVERS = 120  # more than two seconds' worth of requests at 50 a second


@pytest.mark.slow
async def test_a_fan_out_to_many_servers_is_paced_under_the_global_limit(
        fake_discord: FakeDiscord, kindred_config: Config, clock: FakeClock) -> None:
    fake = fake_discord
    servers = [fake.add_guild(f"Circle {i}", channels=["check-ins"]) for i in range(SERVERS)]
    async with running_kindred(fake, kindred_config, clock=clock) as bot:
        for guild in servers:
            await bot.services.guild_config.set_checkins(guild.id, channel_id=guild.channel("check-ins").id,
                                                         time="09:00", timezone="Europe/London")
        fake.faults.global_rate_limit(50)  # 50 a second, bursts of 50, as Discord allows a bot
        clock.advance(timedelta(days=1))  # every server's 09:00 has just passed
        await bot.run_sweeps_once()
        assert fake.faults.injected == []  # not one request was refused with a 429
    for guild in servers:
        [prompt] = fake.messages_in(guild.channel("check-ins"))
        assert prompt.custom_ids == ["kindred:checkin", "kindred:pledge"]
