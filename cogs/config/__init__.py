"""`/config …`: moderator settings (Manage Server)."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.config._cog import ConfigCog


async def setup(bot: KindredBot) -> None:
    """Add the config cog."""
    await bot.add_cog(ConfigCog(bot.services))
