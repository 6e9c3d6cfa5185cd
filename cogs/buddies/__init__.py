"""Accountability buddies: `/buddy …` and the request DM's persistent buttons."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.buddies._cog import BuddyCog
from cogs.buddies._views import AcceptButton, DeclineButton
from cogs.common import guild_namer, membership_check


async def setup(bot: KindredBot) -> None:
    """Register the request buttons (they work after restarts), give the service its Discord lookups, add the cog."""
    bot.add_dynamic_items(AcceptButton, DeclineButton)
    service = bot.services.buddies
    service.guild_name = guild_namer(bot)
    service.membership = membership_check(bot)
    await bot.add_cog(BuddyCog(service))
