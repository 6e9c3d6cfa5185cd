"""Meetings: `/meeting …` (weekly groups published as Discord scheduled events, and reminders)."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.common import guild_namer
from cogs.meetings._cog import MeetingCog


async def setup(bot: KindredBot) -> None:
    """Give the service its Discord lookups and add the cog."""
    bot.services.meetings.guild_name = guild_namer(bot)
    await bot.add_cog(MeetingCog(bot.services.meetings))
