"""Daily check-ins: `/checkin`, `/pledge`, `/mystats`, `/reminder`, and the prompt's buttons."""

from __future__ import annotations

from bot.app import KindredBot
from cogs.checkins._cog import CheckInsCog
from cogs.checkins._views import PromptButtons


async def setup(bot: KindredBot) -> None:
    """Register the persistent prompt buttons, the `/settings show` lines, then add the cog."""
    service = bot.services.checkins
    bot.add_view(PromptButtons(service))
    cog = CheckInsCog(service)
    bot.settings_show_providers.append(cog.settings_show_lines)
    await bot.add_cog(cog)
