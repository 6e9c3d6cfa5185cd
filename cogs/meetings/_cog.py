"""The `/meeting` group: thin adapters over MeetingService; every reply is ephemeral."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.meetings import DEFAULT_DURATION, DEFAULT_REMIND, WEEKDAYS
from bot.domain.plaintext import escape_markup
from bot.errors import PermissionDeniedError
from bot.services.meetings import MeetingService
from bot.tree import send_ephemeral
from cogs.common import ids, zone_autocomplete
from cogs.meetings._messages import (
    NEED_PERMISSION,
    REMINDER_OFF,
    REMOVED,
    added_reply,
    list_reply,
    remind_reply,
)

WEEKDAY_CHOICES = [app_commands.Choice(name=day.capitalize(), value=day) for day in WEEKDAYS]
CHANNEL_KINDS = {discord.ChannelType.voice: "voice", discord.ChannelType.stage_voice: "stage"}


class MeetingChannel(app_commands.Transformer):
    """A channel option whose picker offers only voice and stage channels."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return list(CHANNEL_KINDS)

    async def transform(self, interaction: discord.Interaction, value: app_commands.AppCommandChannel,
                        /) -> app_commands.AppCommandChannel:
        """Keep the resolved channel as it is (the service checks its kind)."""
        return value


Channel = app_commands.Transform[app_commands.AppCommandChannel, MeetingChannel]


def _may_manage(interaction: discord.Interaction) -> None:
    """Manage Server or Manage Events (Create Events on newer permission sets), checked at run time."""
    perms = interaction.permissions
    if not (perms.manage_guild or perms.manage_events or perms.create_events or perms.administrator):
        raise PermissionDeniedError(NEED_PERMISSION)


@app_commands.guild_only()
class MeetingCog(commands.GroupCog, group_name="meeting", group_description="Weekly peer-support meetings"):
    """Meeting commands."""

    def __init__(self, meetings: MeetingService) -> None:
        self.meetings = meetings
        super().__init__()

    async def _names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return [app_commands.Choice(name=name, value=name)
                for name in await self.meetings.names(interaction.guild_id, current)]

    @app_commands.command(name="add", description="Add a weekly meeting (Manage Server or Manage Events)")
    @app_commands.describe(name="What it's called", weekday="The day it meets", time="Local time, 24-hour HH:MM",
                           timezone="The meeting's time zone (IANA, e.g. Europe/London)",
                           duration="Minutes (15–240, default 60)",
                           channel="A voice or stage channel (leave out for a meeting held elsewhere)",
                           description="What it is, or where (shown on the Discord event)")
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    @app_commands.autocomplete(timezone=zone_autocomplete)
    async def add(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 60],
                  weekday: app_commands.Choice[str], time: app_commands.Range[str, 1, 5],
                  timezone: app_commands.Range[str, 1, 64],
                  duration: app_commands.Range[int, 15, 240] = DEFAULT_DURATION,
                  channel: Channel | None = None,
                  description: app_commands.Range[str, 1, 1000] | None = None) -> None:
        """Add a weekly meeting and publish its next occurrence."""
        guild_id, _ = ids(interaction)
        _may_manage(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.meetings.add(
            guild_id, name=name, weekday=weekday.value, time_text=time, timezone=timezone, duration=duration,
            channel_id=channel.id if channel else None,
            channel_type=CHANNEL_KINDS.get(channel.type, channel.type.name) if channel else None,
            description=description)
        await send_ephemeral(interaction, added_reply(outcome))

    @app_commands.command(name="remove", description="Remove a meeting and its Discord event")
    @app_commands.describe(name="The meeting")
    @app_commands.autocomplete(name=_names)
    async def remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 60]) -> None:
        """Remove a meeting."""
        guild_id, _ = ids(interaction)
        _may_manage(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.meetings.remove(guild_id, name)
        await send_ephemeral(interaction, REMOVED.format(name=escape_markup(removed)))

    @app_commands.command(name="list", description="Upcoming meetings, in your own time zone")
    async def list_meetings(self, interaction: discord.Interaction) -> None:
        """List the server's meetings."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, list_reply(await self.meetings.upcoming(guild_id, user_id)))

    @app_commands.command(name="remind", description="A DM before every occurrence of a meeting")
    @app_commands.describe(name="The meeting", minutes_before="How long before (5–120 minutes, default 30)")
    @app_commands.autocomplete(name=_names)
    async def remind(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 60],
                     minutes_before: app_commands.Range[int, 5, 120] = DEFAULT_REMIND) -> None:
        """Turn on a meeting reminder."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, remind_reply(await self.meetings.remind(guild_id, user_id, name, minutes_before)))

    @app_commands.command(name="remind-off", description="No more reminders for a meeting")
    @app_commands.describe(name="The meeting")
    @app_commands.autocomplete(name=_names)
    async def remind_off(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 60]) -> None:
        """Turn a meeting reminder off."""
        guild_id, user_id = ids(interaction)
        removed = await self.meetings.remind_off(guild_id, user_id, name)
        await send_ephemeral(interaction, REMINDER_OFF.format(name=escape_markup(removed)))
