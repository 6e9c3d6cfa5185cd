"""Member settings: validation, defaults and the closed-DM mark."""

from __future__ import annotations

import dataclasses
from datetime import time

import pytest

from bot.config import Config, DefaultsSection
from bot.domain.settings import ShareCheckins
from bot.errors import InvalidInputError
from bot.services.container import Services

G, U = 1001, 2002


async def test_first_use_creates_member_with_server_defaults(services: Services) -> None:
    eff = await services.settings.effective(G, U)
    assert eff.timezone == "UTC" and not eff.timezone_is_own
    assert eff.region is None and eff.region_source == "none"
    assert eff.member.crisis_replies is True
    assert eff.member.share_checkins is ShareCheckins.NOBODY


async def test_member_zone_beats_server_zone(services: Services) -> None:
    await services.guild_config.set_checkins(G, channel_id=5, time="09:00", timezone="Asia/Kolkata")
    assert (await services.settings.effective(G, U)).timezone == "Asia/Kolkata"
    await services.settings.set_timezone(G, U, "America/St_Johns")
    eff = await services.settings.effective(G, U)
    assert eff.timezone == "America/St_Johns" and eff.timezone_is_own


async def test_region_falls_back_member_server_config(services: Services, config: Config) -> None:
    await services.guild_config.set_crisis(G, detection=False, region="Australia")
    eff = await services.settings.effective(G, U)
    assert (eff.region, eff.region_source) == ("AU", "server")
    await services.settings.set_region(G, U, "uk")
    eff = await services.settings.effective(G, U)
    assert (eff.region, eff.region_source) == ("GB", "member")


async def test_config_default_region_used_when_server_has_none(services: Services, config: Config) -> None:
    services.settings.config = dataclasses.replace(config, defaults=DefaultsSection(region="IN"))
    eff = await services.settings.effective(G, U)
    assert (eff.region, eff.region_source) == ("IN", "server")


@pytest.mark.parametrize("bad", ["GMT+1", "London", "", "Europe/Londn"])
async def test_bad_timezone_is_refused_and_changes_nothing(services: Services, bad: str) -> None:
    await services.settings.set_timezone(G, U, "Europe/Berlin")
    with pytest.raises(InvalidInputError) as info:
        await services.settings.set_timezone(G, U, bad)
    assert "time zone" in info.value.message
    assert (await services.settings.effective(G, U)).timezone == "Europe/Berlin"


async def test_quiet_hours_set_and_cleared(services: Services) -> None:
    member = await services.settings.set_quiet_hours(G, U, "22:00", "7:30")
    assert (member.quiet_start, member.quiet_end) == (time(22, 0), time(7, 30))
    with pytest.raises(InvalidInputError):
        await services.settings.set_quiet_hours(G, U, "10pm", "07:00")
    assert (await services.members.get(G, U)).quiet_start == time(22, 0)  # type: ignore[union-attr]
    member = await services.settings.set_quiet_hours(G, U, "08:00", "08:00")
    assert member.quiet_start is None and member.quiet_end is None


async def test_crisis_replies_and_sharing(services: Services) -> None:
    assert (await services.settings.set_crisis_replies(G, U, False)).crisis_replies is False
    assert (await services.settings.set_share_checkins(G, U, "buddies")).share_checkins is ShareCheckins.BUDDIES
    with pytest.raises(InvalidInputError):
        await services.settings.set_share_checkins(G, U, "everyone")


async def test_using_the_bot_lifts_the_closed_dm_mark(services: Services) -> None:
    await services.settings.touch(G, U)
    await services.settings.touch(G + 1, U)
    await services.members.mark_dm_closed(U, services.clock.now())
    assert await services.members.dm_closed(U, services.clock.now())
    assert (await services.members.get(G + 1, U)).dm_closed_at is not None  # type: ignore[union-attr]
    await services.settings.touch(G, U)
    assert (await services.members.get(G, U)).dm_closed_at is None  # type: ignore[union-attr]
    assert (await services.members.get(G + 1, U)).dm_closed_at is None  # type: ignore[union-attr]
    assert not await services.members.dm_closed(U, services.clock.now())


async def test_guild_config_validates_and_notifies(services: Services) -> None:
    seen = []

    async def listener(guild: object) -> None:
        seen.append(guild)

    services.guild_config.on_change(listener)
    view = await services.guild_config.set_checkins(G, channel_id=77, time="7:00", timezone="Europe/London")
    assert view.checkin_time == "07:00" and view.guild.checkin_enabled and len(seen) == 1
    with pytest.raises(InvalidInputError):
        await services.guild_config.set_checkins(G, channel_id=77, time="7:00", timezone="Nowhere/Town")
    with pytest.raises(InvalidInputError):
        await services.guild_config.set_buddies(G, max_buddies=9)
    assert len(seen) == 1
    assert (await services.guild_config.view(G)).timezone == "Europe/London"


async def test_everyone_is_not_a_responder_role(services: Services) -> None:
    with pytest.raises(InvalidInputError, match="@everyone"):
        await services.guild_config.set_alerts(G, channel_id=5, role_id=G)
    assert (await services.guild_config.view(G)).guild.alerts_channel_id is None
    view = await services.guild_config.set_alerts(G, channel_id=5, role_id=77)
    assert view.guild.alerts_role_id == 77
