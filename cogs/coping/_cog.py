"""`/urge`, `/plan show` and `/plan edit`: thin adapters over CopingService."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.coping import MINUTES_DEFAULT, MINUTES_MAX, MINUTES_MIN, STRENGTH_MAX, STRENGTH_MIN
from bot.errors import DatabaseUnavailableError
from bot.services.coping import PLAN_MODAL_ID, CopingService, UrgeStart
from cogs.common import ids
from cogs.coping._messages import urge_embed, urge_reply
from cogs.coping._views import PlanModal, handle_plan_submit, send_plan, urge_view

log = logging.getLogger(__name__)

PLAN_READ_TIMEOUT = 2.0  # seconds; the form must open within Discord's 3
DM_CHECK_WAIT = 2.0  # seconds the /urge reply waits for its first DM before answering without knowing


class CopingCog(commands.Cog):
    """Urge surfing and the private relapse-prevention plan."""

    plan_group = app_commands.Group(name="plan", description="Your private relapse-prevention plan", guild_only=True)

    def __init__(self, service: CopingService) -> None:
        self.service = service

    @app_commands.command(name="urge", description="Ride out an urge: a few steps, a HALT check, and a check-in later (private)")
    @app_commands.describe(strength=f"How strong is it right now? {STRENGTH_MIN} = none … {STRENGTH_MAX} = very strong (optional)",
                           minutes=f"When should I check back? {MINUTES_MIN}–{MINUTES_MAX} minutes (default {MINUTES_DEFAULT})")
    @app_commands.guild_only()
    async def urge(self, interaction: discord.Interaction,
                   strength: app_commands.Range[int, STRENGTH_MIN, STRENGTH_MAX] | None = None,
                   minutes: app_commands.Range[int, MINUTES_MIN, MINUTES_MAX] = MINUTES_DEFAULT) -> None:
        """Surf an urge: steps, HALT, the member's plan, and a check-back DM after `minutes`."""
        guild_id, user_id = ids(interaction)
        # Recording the urge and checking the member's DMs can take a moment; Discord wants an answer in 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        start = await self.service.start_urge(guild_id, user_id, strength=strength, minutes=minutes)
        # The short DM saying when the check-back comes also tells whether DMs reach the member;
        # the reply waits for it briefly so it can say so, never long (Discord may be slow).
        probe = asyncio.create_task(self._dms_reach(start, guild_id, user_id)) if start.urge is not None else None
        if probe is not None:
            await asyncio.wait({probe}, timeout=DM_CHECK_WAIT)
        closed = probe is not None and probe.done() and not probe.result()
        await interaction.followup.send(urge_reply(start, dms_closed=closed), embed=urge_embed(start),
                                        view=urge_view(start, dms_closed=closed), ephemeral=True,
                                        allowed_mentions=discord.AllowedMentions.none())
        if probe is not None and not probe.done() and not await probe:
            await interaction.edit_original_response(content=urge_reply(start, dms_closed=True),
                                                     view=urge_view(start, dms_closed=True))

    async def _dms_reach(self, start: UrgeStart, guild_id: int, user_id: int) -> bool:
        """Send the urge's first DM; False only if Discord refused it (DMs closed)."""
        try:
            return await self.service.check_dms_reach(start, guild_id, user_id)
        except Exception as exc:  # the member has their answer; the check-back stays scheduled
            log.warning("urge: could not check DMs (guild=%s): %s", guild_id, type(exc).__name__)
            return True

    @plan_group.command(name="show", description="Show your private relapse-prevention plan (only you see it)")
    async def plan_show(self, interaction: discord.Interaction) -> None:
        """Show the member's plan, or how to write one."""
        guild_id, user_id = ids(interaction)
        await send_plan(interaction, await self.service.plan(guild_id, user_id))

    @plan_group.command(name="edit", description="Write or change your private relapse-prevention plan")
    async def plan_edit(self, interaction: discord.Interaction) -> None:
        """Open the plan form, filled in with the current plan."""
        guild_id, user_id = ids(interaction)
        # A form cannot be deferred: it must open within Discord's 3 seconds. An empty form in
        # place of a plan that could not be read would overwrite it when saved, so a slow read
        # gets the kind "try again" reply instead.
        try:
            plan = await asyncio.wait_for(self.service.plan(guild_id, user_id), PLAN_READ_TIMEOUT)
        except TimeoutError:
            raise DatabaseUnavailableError("reading the plan took too long") from None
        await interaction.response.send_modal(PlanModal(plan))

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Handle plan form submissions, including forms opened before a restart."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = cast("dict[str, Any]", interaction.data or {})
        if data.get("custom_id") != PLAN_MODAL_ID:
            return
        await handle_plan_submit(interaction)
