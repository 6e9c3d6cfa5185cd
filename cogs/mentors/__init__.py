"""Mentors: `/mentor …` and the request DM's persistent buttons."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.common import guild_namer, membership_check, role_lookup
from cogs.mentors._cog import MentorCog
from cogs.mentors._views import AcceptButton, DeclineButton


async def setup(bot: KindredBot) -> None:
    """Register the request buttons (they work after restarts), give the service its Discord lookups, add the cog."""
    bot.add_dynamic_items(AcceptButton, DeclineButton)
    service = bot.services.mentors
    service.guild_name = guild_namer(bot)
    service.membership = membership_check(bot)
    service.roles = role_lookup(bot)
    await bot.add_cog(MentorCog(service))
