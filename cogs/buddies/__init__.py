"""Accountability buddies: `/buddy …` and the request DM's persistent buttons."""

from __future__ import annotations

import logging

import discord

from bot.app import KindredBot
from cogs.buddies._cog import BuddyCog
from cogs.buddies._views import AcceptButton, DeclineButton

log = logging.getLogger(__name__)


async def setup(bot: KindredBot) -> None:
    """Register the request buttons (they work after restarts), give the service its Discord lookups, add the cog."""
    bot.add_dynamic_items(AcceptButton, DeclineButton)
    service = bot.services.buddies

    def guild_name(guild_id: int) -> str | None:
        guild = bot.get_guild(guild_id)
        return guild.name if guild is not None else None

    async def is_member(guild_id: int, user_id: int) -> bool | None:
        # One REST lookup (no members intent needed); only a 404 means "not a member".
        guild = bot.get_guild(guild_id)
        if guild is None:
            return None
        try:
            await guild.fetch_member(user_id)
        except discord.NotFound:
            return False
        except Exception:  # network trouble or a 5xx: we cannot tell, so nothing is ended
            log.warning("could not check membership of a buddy in guild %s", guild_id)
            return None
        return True

    service.guild_name = guild_name
    service.membership = is_member
    await bot.add_cog(BuddyCog(service))
