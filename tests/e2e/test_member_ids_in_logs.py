"""At INFO and above, no line records a member's health action beside their Discord id (review 22).

The change moved "urge recorded (member …)" and its kind to DEBUG because an id beside a health
action in the host's journal outlives `/privacy delete`; the data statement now promises "what
you do is not logged with your id at all". These probes drive the paths the change did not touch
(the database briefly unavailable, a Discord 5xx on a DM) and look for the member's Discord id on
any INFO+ line.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import Community, running_kindred
from tests.e2e.test_degraded_start import missing_database


def naming(caplog: pytest.LogCaptureFixture, user_id: int) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.INFO and str(user_id) in r.getMessage()]


async def test_member_actions_during_a_database_outage_do_not_name_the_member_at_info(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        tmp_path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    config, _ = missing_database(kindred_config, tmp_path, request)
    alice, guild = community.alice, community.guild
    async with running_kindred(fake_discord, config, clock=clock):
        await (await fake_discord.slash("/urge", user=alice, guild=guild, strength=9)).reply()
        await (await fake_discord.slash("/recovery slip", user=alice, guild=guild)).reply()
        await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=1, craving=9)).reply()
        await (await fake_discord.slash("/alertmods", user=alice, guild=guild)).reply()
    assert naming(caplog, alice.id) == []


async def test_a_discord_5xx_on_a_crisis_or_urge_dm_does_not_name_the_member_beside_its_kind(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fake, alice = fake_discord, community.alice
    await (await fake.slash("/urge", user=alice, guild=community.guild, strength=8, minutes=5)).reply()
    await fake.wait_for(lambda: fake.dms_to(alice), what="the urge's first DM")
    caplog.clear()
    fake.faults.server_error("POST /channels/{channel_id}/messages", times=1, status=503)
    clock.advance(timedelta(minutes=6))
    await kindred.run_sweeps_once()  # the check-back DM meets a 503
    lines = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    # The member's Discord id and "urge.checkback" appear on consecutive WARNING lines of one send.
    assert naming(caplog, alice.id) == [], lines
