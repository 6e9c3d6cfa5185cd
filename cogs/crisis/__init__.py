"""Crisis resources and safety: `/crisis`, `/alertmods`, passive detection and alert buttons."""

from __future__ import annotations

import discord

from bot.app import KindredBot
from bot.discord_notifier import build_embed
from bot.domain.messages import OutgoingMessage
from cogs.crisis._cog import CrisisCog
from cogs.crisis._views import AlertButton, stopped_view


async def setup(bot: KindredBot) -> None:
    """Register the persistent alert buttons, let the service edit posted alerts, add the cog."""
    bot.add_dynamic_items(AlertButton)
    service = bot.services.crisis

    async def edit_alert(channel_id: int, message_id: int, message: OutgoingMessage) -> bool:
        # Only the embed and buttons change; the headline (and any role mention) stays as posted.
        partial = bot.get_partial_messageable(channel_id).get_partial_message(message_id)
        await partial.edit(embed=build_embed(message), view=stopped_view(message),
                           allowed_mentions=discord.AllowedMentions.none())
        return True

    service.edit_alert = edit_alert
    await bot.add_cog(CrisisCog(service))
