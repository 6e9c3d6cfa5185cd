"""The `/config` permission matrix: every subcommand × a plain member, a manager, an administrator.

Discord hides `/config` from members without Manage Server (the synced default permissions),
but a server can override that, so the bot checks again at run time. A plain member (with
the override modelled by `bypass_permissions=True`) is refused kindly and privately, and
nothing changes; a member with Manage Server, or with Administrator, gets the change made.
The subcommands are read from the synced schema, and every one must have a row below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import KindredBot
from bot.checks import ManageGuildRequiredError
from bot.config import Config
from bot.domain.localtime import parse_hhmm
from bot.fakediscord import ADMINISTRATOR, MANAGE_GUILD, FakeDiscord, FakeDiscordError, User
from bot.tree import NEED_MANAGE_GUILD
from tests.e2e.helpers import Community
from tests.fuzz.support import Snapshots, changed_tables
from tests.fuzz.test_command_inputs import Refusals, check_reply, leaves

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class World:
    fake: FakeDiscord
    community: Community
    bot: KindredBot

    @property
    def guild_id(self) -> int:
        return self.community.guild.id

    async def settings(self) -> Any:
        return await self.bot.services.guilds.get(self.guild_id)

    async def ladder(self) -> tuple[int, ...]:
        return (await self.bot.services.recovery.ladder(self.guild_id)).days


Options = Callable[[World], Awaitable[dict[str, Any]]]
Effect = Callable[[World, str], Awaitable[None]]


def fixed(**values: Any) -> Options:
    async def options(w: World) -> dict[str, Any]:
        return dict(values)
    return options


async def checkins_options(w: World) -> dict[str, Any]:
    return {"channel": w.community.checkins, "time": "08:15", "timezone": "Asia/Kolkata", "enabled": True}


async def checkins_effect(w: World, reply: str) -> None:
    g = await w.settings()
    assert (g.checkin_channel_id, g.checkin_time, g.timezone, g.checkin_enabled) == (
        w.community.checkins.id, parse_hhmm("08:15"), "Asia/Kolkata", True)


async def celebrations_options(w: World) -> dict[str, Any]:
    return {"channel": w.community.celebrations}


async def celebrations_effect(w: World, reply: str) -> None:
    assert (await w.settings()).celebrations_channel_id == w.community.celebrations.id


async def alerts_options(w: World) -> dict[str, Any]:
    return {"channel": w.community.alerts, "role": w.community.guild.role("Moderators")}


async def alerts_effect(w: World, reply: str) -> None:
    g = await w.settings()
    assert (g.alerts_channel_id, g.alerts_role_id) == (w.community.alerts.id, w.community.guild.role("Moderators").id)


async def crisis_effect(w: World, reply: str) -> None:
    g = await w.settings()
    assert (g.crisis_detection, g.region, g.crisis_public_nudge) == (True, "AU", False)


async def buddies_effect(w: World, reply: str) -> None:
    g = await w.settings()
    assert (g.buddy_nudge_after_days, g.buddy_max, g.buddy_matching) == (4, 2, False)


async def mentors_effect(w: World, reply: str) -> None:
    g = await w.settings()
    assert (g.mentors_enabled, g.mentor_role_id, g.mentor_min_days) == (
        False, w.community.guild.role("Moderators").id, 90)


async def mentors_options(w: World) -> dict[str, Any]:
    return {"enabled": "off", "role": w.community.guild.role("Moderators"), "min_days": 90}


async def milestone_added(w: World, reply: str) -> None:
    assert 45 in await w.ladder()


async def milestone_removed(w: World, reply: str) -> None:
    assert 7 not in await w.ladder()


async def ladder_reset(w: World, reply: str) -> None:
    assert await w.ladder() == w.bot.services.config.milestones.ladder


async def resource_name(w: World) -> dict[str, Any]:
    # The member picks the resource from autocomplete, whose value is its id.
    choices = await w.fake.autocomplete("/config resources remove", "name", "", user=w.community.mod,
                                        guild=w.community.guild)
    return {"name": choices[0]["value"] if choices else "Our warmline"}


async def resource_added(w: World, reply: str) -> None:
    rows = await w.bot.services.crisis.local_resources(w.guild_id)
    assert [r.name for r in rows] == ["Our warmline"]


async def resource_removed(w: World, reply: str) -> None:
    assert await w.bot.services.crisis.local_resources(w.guild_id) == []


async def shows_settings(w: World, reply: str) -> None:
    assert "Asia/Kolkata" in reply and "08:15" in reply


async def shows_pulse(w: World, reply: str) -> None:
    assert "Community pulse" in reply and "6 whole weeks" in reply


# Rows in the order the schema lists them (add before remove; show last sees every change).
MATRIX: dict[str, tuple[Options, Effect]] = {
    "/config resources add": (fixed(country="GB", name="Our warmline", contact="0800 123 4567"), resource_added),
    "/config resources remove": (resource_name, resource_removed),
    "/config milestones add": (fixed(days=45, description="Six weeks and a bit"), milestone_added),
    "/config milestones remove": (fixed(days=7), milestone_removed),
    "/config milestones reset": (fixed(), ladder_reset),
    "/config checkins": (checkins_options, checkins_effect),
    "/config celebrations": (celebrations_options, celebrations_effect),
    "/config alerts": (alerts_options, alerts_effect),
    "/config crisis": (fixed(detection="on", region="AU", **{"public-nudge": "off"}), crisis_effect),
    "/config buddies": (fixed(nudge_after_days=4, max_buddies=2, matching="off"), buddies_effect),
    "/config mentors": (mentors_options, mentors_effect),
    "/config pulse": (fixed(weeks=6), shows_pulse),
    "/config show": (fixed(), shows_settings),
}


def config_leaves(fake: FakeDiscord) -> list[str]:
    paths = [leaf.path for leaf in leaves(fake.commands()) if leaf.path.startswith("/config")]
    missing = [p for p in paths if p not in MATRIX]
    assert not missing, f"add these /config subcommands to the permission matrix: {missing}"
    return paths


def member_with(fake: FakeDiscord, community: Community, who: str) -> User:
    if who == "manager":
        return community.mod  # has the "Moderators" role with Manage Server
    user = fake.add_user(who)
    if who == "administrator":
        fake.add_member(community.guild, user, roles=[fake.add_role(community.guild, "Admins", permissions=ADMINISTRATOR)])
    else:
        fake.add_member(community.guild, user)
    return user


async def test_config_is_hidden_from_members_without_manage_server(fake_discord: FakeDiscord, community: Community,
                                                                   kindred: KindredBot) -> None:
    [config] = [c for c in fake_discord.commands() if c["name"] == "config"]
    assert int(config["default_member_permissions"]) == MANAGE_GUILD
    for path in config_leaves(fake_discord):
        options = await MATRIX[path][0](World(fake_discord, community, kindred))
        with pytest.raises(FakeDiscordError, match="hides /config"):
            await fake_discord.slash(path, user=community.alice, guild=community.guild, options=options)
    assert not fake_discord.ephemeral_replies(community.alice)


async def test_plain_member_is_refused_kindly_and_nothing_changes(fake_discord: FakeDiscord, community: Community,
                                                                  kindred: KindredBot, kindred_config: Config) -> None:
    world = World(fake_discord, community, kindred)
    refusals = Refusals(kindred)
    member = member_with(fake_discord, community, "member")
    snapshots = Snapshots(kindred_config.database_path)
    try:
        await fake_discord.wait_for(lambda: snapshots.take()["guilds"], what="the server's row from on_ready")
        before = snapshots.take()
        for path in config_leaves(fake_discord):
            options = await MATRIX[path][0](world)
            # The server overrode the command's permissions, so Discord lets the member run it.
            handle = await fake_discord.slash(path, user=member, guild=community.guild, bypass_permissions=True,
                                              options=options)
            reply = await handle.reply()
            check_reply(fake_discord, handle, reply, path)
            assert reply.text == NEED_MANAGE_GUILD, path
            assert isinstance(refusals.errors.get(handle.id), ManageGuildRequiredError), path
            after = snapshots.take()
            assert after == before, f"{path}: refused, yet changed {changed_tables(before, after)}"
    finally:
        snapshots.close()
    assert not fake_discord.messages_in(community.general) and not fake_discord.dms_to(member)


@pytest.mark.parametrize("who", ["manager", "administrator"])
async def test_manage_server_or_administrator_is_accepted(fake_discord: FakeDiscord, community: Community,
                                                          kindred: KindredBot, who: str) -> None:
    world = World(fake_discord, community, kindred)
    refusals = Refusals(kindred)
    member = member_with(fake_discord, community, who)
    for path in config_leaves(fake_discord):
        options_for, effect = MATRIX[path]
        # No bypass: Discord shows /config to them, as the synced default permissions say.
        handle = await fake_discord.slash(path, user=member, guild=community.guild, options=await options_for(world))
        reply = await handle.reply()
        check_reply(fake_discord, handle, reply, path)
        assert handle.id not in refusals.errors, f"{path}: refused with {reply.text!r}"
        await effect(world, reply.text)
