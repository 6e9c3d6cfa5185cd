"""Accountability buddies: `/buddy …` and the request DM's persistent buttons."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.buddies._cog import BuddyCog
from cogs.buddies._views import AcceptButton, DeclineButton


async def setup(bot: KindredBot) -> None:
    """Register the request buttons (they work after restarts), name servers in DMs, add the cog."""
    bot.add_dynamic_items(AcceptButton, DeclineButton)
    service = bot.services.buddies

    def guild_name(guild_id: int) -> str | None:
        guild = bot.get_guild(guild_id)
        return guild.name if guild is not None else None

    service.guild_name = guild_name
    await bot.add_cog(BuddyCog(service))
