"""Old crisis numbers are the running bot's business: it says so at start, to the ops channel and in /config show.

The clock is a FakeClock set relative to the data's own `last_checked`, so these tests pass on
any calendar day, whenever the data was last checked.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord
from bot.services.crisis import load_crisis_data
from tests.e2e.helpers import Community, running_kindred


def days_after_check(config: Config, days: int) -> FakeClock:
    checked = load_crisis_data(config).directory.last_checked
    return FakeClock(datetime.combine(checked + timedelta(days=days), time(12, 0), UTC))


@pytest.mark.parametrize(("days", "stale"), [(10, False), (120, True)])
async def test_start_up_and_config_show_say_how_old_the_crisis_numbers_are(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, days: int, stale: bool,
        caplog: pytest.LogCaptureFixture) -> None:
    ops = community.guild.channel("general")
    config = dataclasses.replace(kindred_config, bot=dataclasses.replace(kindred_config.bot, ops_channel_id=ops.id))
    caplog.set_level(logging.INFO, logger="bot.app")
    async with running_kindred(fake_discord, config, clock=days_after_check(config, days)):
        [notice] = await fake_discord.wait_for(lambda: fake_discord.messages_in(ops), 10, "the start-up notice")
        show = await (await fake_discord.slash("/config show", user=community.mod, guild=community.guild)).reply()
    assert f"({days} days ago" in notice.text and f"({days} days ago" in show.text
    assert ("older than 90 days" in notice.text) is stale and ("older than 90 days" in show.text) is stale
    [logged] = [r for r in caplog.records if "crisis numbers last checked" in r.getMessage()]
    assert logged.levelno == (logging.WARNING if stale else logging.INFO)
