"""`/crisis`, `/alertmods`, and the passive-detection message listener: thin adapters over CrisisService."""

from __future__ import annotations

import asyncio
import logging
import traceback

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_notifier import build_embed
from bot.domain.crisis.templates import Language, language_for_locale
from bot.errors import DatabaseUnavailableError
from bot.services.crisis import CrisisService, RequestResult, RequestStatus, SeenMessage
from bot.tree import send_ephemeral
from cogs.common import ids
from cogs.crisis._messages import PLAN_FIRST, alertmods_reply, with_plan_first

log = logging.getLogger(__name__)

# Passive detection runs on the event loop's thread for short messages and in a worker
# thread for long ones. Measured on the development VM (bench/README.md has the pipeline
# numbers): ordinary chat takes 0.1-0.3 ms; adversarial text of 300 characters (risk
# phrases, idioms and negations packed together) at most ~3 ms; 2,000 characters 15 ms and
# 4,000 up to 50 ms. Up to INLINE_LIMIT the cost is below a gateway heartbeat's jitter and a
# thread hop would cost more than it saves; above it, `asyncio.to_thread` keeps the loop
# answering interactions. The regex engine holds the GIL within one search, but the
# pipeline is many short searches, so the loop gets the GIL back between them.
INLINE_LIMIT = 300
_CHAT_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def _guild_language(guild: discord.Guild | None) -> Language:
    return language_for_locale(str(guild.preferred_locale)) if guild is not None else Language.EN


class CrisisCog(commands.Cog):
    """Crisis commands and passive detection."""

    def __init__(self, service: CrisisService) -> None:
        self.service = service

    async def _country_choices(self, interaction: discord.Interaction,
                               current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{name} ({code})"[:100], value=code)
                for name, code in self.service.suggest_countries(current)]

    @app_commands.command(name="crisis", description="People you can reach right now: crisis lines and emergency numbers")
    @app_commands.describe(country="Country name or two-letter code (default: your country, or the server's)")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def crisis(self, interaction: discord.Interaction,
                     country: app_commands.Range[str, 1, 64] | None = None) -> None:
        """Show crisis resources privately (the member's own plan first); works with or without the database."""
        help_ = await self.service.crisis_help(
            user_id=interaction.user.id, guild_id=interaction.guild_id, country=country,
            guild_name=interaction.guild.name if interaction.guild else "",
            lang=language_for_locale(str(interaction.locale)))
        message = help_.message
        if help_.plan is not None:
            await send_ephemeral(interaction, PLAN_FIRST, embeds=with_plan_first(help_.plan, message))
            return
        embed = build_embed(message)
        if embed is None:
            await send_ephemeral(interaction, message.content)
        else:
            await send_ephemeral(interaction, message.content, embed=embed)

    @crisis.autocomplete("country")
    async def _crisis_country(self, interaction: discord.Interaction,
                              current: str) -> list[app_commands.Choice[str]]:
        return await self._country_choices(interaction, current)

    @app_commands.command(name="alertmods", description="Quietly let this server's moderators know you'd like help")
    @app_commands.describe(message="Optional: a few words for the moderators (only they see it; never stored)")
    @app_commands.guild_only()
    async def alertmods(self, interaction: discord.Interaction,
                        message: app_commands.Range[str, 1, 1000] | None = None) -> None:
        """Alert the moderators' channel; the member gets a private confirmation only."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.service.alert_moderators(
                guild_id, interaction.channel_id or 0, user_id, message, _guild_language(interaction.guild))
        except DatabaseUnavailableError:
            log.warning("alertmods: database unavailable (guild=%s interaction=%s)", guild_id, interaction.id)
            result = RequestResult(RequestStatus.UNDELIVERED)
        await send_ephemeral(interaction, alertmods_reply(result))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Look for signs of crisis where a moderator turned detection on; store and log no text."""
        if (message.guild is None or message.author.bot or message.webhook_id is not None
                or message.type not in _CHAT_TYPES or not message.content):
            return
        guild_id = message.guild.id
        try:
            if not await self.service.watches(guild_id):
                return
            text = message.content
            if len(text) <= INLINE_LIMIT:
                detection = self.service.detect(text)
            else:
                detection = await asyncio.to_thread(self.service.detect, text)
            if detection.tier <= 0:
                return
            seen = SeenMessage(guild_id=guild_id, channel_id=message.channel.id, message_id=message.id,
                               author_id=message.author.id, guild_name=message.guild.name,
                               lang=_guild_language(message.guild))
            await self.service.handle_detection(seen, detection)
        except Exception as exc:  # a listener must not die
            # The frames, not the exception's message: a message could quote the text.
            log.error("crisis detection failed for message %s in guild %s: %s\n%s", message.id, guild_id,
                      type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
