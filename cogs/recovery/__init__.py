"""`/recovery …`: recovery counters, slips and milestone celebrations."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.recovery._cog import RecoveryCog


async def setup(bot: KindredBot) -> None:
    """Add the recovery cog."""
    await bot.add_cog(RecoveryCog(bot.services.recovery))
