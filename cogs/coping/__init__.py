"""Coping tools: `/urge`, `/plan`, and their persistent buttons and form."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.coping._cog import CopingCog
from cogs.coping._views import AfterButton, HaltButton, PlanShowButton


async def setup(bot: KindredBot) -> None:
    """Register the buttons (they work after restarts, in DMs too), then add the cog."""
    bot.add_dynamic_items(HaltButton, AfterButton, PlanShowButton)
    await bot.add_cog(CopingCog(bot.services.coping))
