"""`/checkin`, `/pledge`, `/mystats` and `/reminder set|off`: thin adapters over CheckInService."""

from __future__ import annotations

import io
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.checkins import (
    BACKFILL_DAYS,
    CRAVING_MAX,
    CRAVING_MIN,
    MOOD_MAX,
    MOOD_MIN,
    NOTE_MAX,
    STATS_DEFAULT_DAYS,
    STATS_MAX_DAYS,
    STATS_MIN_DAYS,
)
from bot.services.checkins import CheckInService
from bot.tree import send_ephemeral
from cogs.checkins._messages import (
    CHART_FILENAME,
    pledge_reply,
    reminder_off_reply,
    reminder_set_reply,
    settings_lines,
    stats_reply,
)
from cogs.checkins._views import MODAL_ID, handle_modal_submit, send_checkin_reply
from cogs.common import ids


class CheckInsCog(commands.Cog):
    """Daily check-ins, pledges, personal stats and reminders."""

    reminder = app_commands.Group(name="reminder", description="A daily DM on days you haven't checked in yet",
                                  guild_only=True)

    def __init__(self, service: CheckInService) -> None:
        self.service = service

    @app_commands.command(name="checkin", description="Check in: how are you today? (only you see it)")
    @app_commands.describe(mood="1 = a really hard day … 5 = a great day",
                           craving="0 = none at all … 10 = very strong (optional)",
                           note=f"A private note, up to {NOTE_MAX} characters (optional)",
                           day=f"A day up to {BACKFILL_DAYS} days back, YYYY-MM-DD (default: today)")
    @app_commands.guild_only()
    async def checkin(self, interaction: discord.Interaction,
                      mood: app_commands.Range[int, MOOD_MIN, MOOD_MAX],
                      craving: app_commands.Range[int, CRAVING_MIN, CRAVING_MAX] | None = None,
                      note: app_commands.Range[str, 1, NOTE_MAX] | None = None,
                      day: app_commands.Range[str, 1, 10] | None = None) -> None:
        """Record today's (or a recent day's) check-in."""
        guild_id, user_id = ids(interaction)
        result = await self.service.check_in(guild_id, user_id, mood=mood, craving=craving, note=note, day=day)
        await send_checkin_reply(interaction, result)

    @app_commands.command(name="pledge", description="Make today's pledge: just for today")
    @app_commands.guild_only()
    async def pledge(self, interaction: discord.Interaction) -> None:
        """Record today's pledge."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, pledge_reply(await self.service.pledge(guild_id, user_id)))

    @app_commands.command(name="mystats", description="Your check-in and pledge streaks, averages and a chart (private)")
    @app_commands.describe(days=f"How many days to look back ({STATS_MIN_DAYS}–{STATS_MAX_DAYS}, default {STATS_DEFAULT_DAYS})")
    @app_commands.guild_only()
    async def mystats(self, interaction: discord.Interaction,
                      days: app_commands.Range[int, STATS_MIN_DAYS, STATS_MAX_DAYS] = STATS_DEFAULT_DAYS) -> None:
        """Show the member's stats with a chart."""
        guild_id, user_id = ids(interaction)
        # Rendering can pass a second on a cold font cache; Discord wants an answer within 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await self.service.my_stats(guild_id, user_id, days)
        if stats.chart_png is None:
            await send_ephemeral(interaction, stats_reply(stats))
            return
        chart = discord.File(io.BytesIO(stats.chart_png), filename=CHART_FILENAME,
                             description="Mood and craving by day")
        await send_ephemeral(interaction, stats_reply(stats), file=chart)

    @reminder.command(name="set", description="DM me at this local time on days I haven't checked in")
    @app_commands.describe(time="Your local time, 24-hour HH:MM (e.g. 20:00)")
    async def reminder_set(self, interaction: discord.Interaction, time: app_commands.Range[str, 1, 5]) -> None:
        """Turn on or move the daily reminder."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, reminder_set_reply(await self.service.set_reminder(guild_id, user_id, time)))

    @reminder.command(name="off", description="Stop the daily check-in reminder")
    async def reminder_off(self, interaction: discord.Interaction) -> None:
        """Turn the daily reminder off."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, reminder_off_reply(await self.service.reminder_off(guild_id, user_id)))

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Handle check-in modal submissions, including forms opened before a restart."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = cast("dict[str, Any]", interaction.data or {})
        if data.get("custom_id") != MODAL_ID:
            return
        await handle_modal_submit(self.service, interaction)

    async def settings_show_lines(self, guild_id: int, user_id: int) -> list[str]:
        """Lines for `/settings show`: the reminder time and why DMs are paused."""
        return settings_lines(await self.service.reminder_status(guild_id, user_id))
