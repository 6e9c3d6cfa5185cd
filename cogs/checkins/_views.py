"""The daily prompt's persistent buttons and the check-in modal.

`kindred:checkin` opens the modal `kindred:checkin:modal`; `kindred:pledge` records the
pledge. The buttons are a `timeout=None` view registered with `bot.add_view`, so they
work on prompts posted before a restart.

discord.py keeps sent modals in memory keyed by custom id only, so with a fixed id one
member's submission would consume another member's modal, and a restart forgets them
all. Submissions are therefore handled by `handle_modal_submit`, called from the cog's
`on_interaction` listener for every submit with our id; the modal object itself only
describes the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import discord

from bot.services.checkins import CHECKIN_BUTTON_ID, PLEDGE_BUTTON_ID, CheckInResult, CheckInService
from bot.tree import report_interaction_error, send_ephemeral
from cogs.checkins._messages import NEED_GUILD, checkin_reply, pledge_reply
from cogs.common import modal_values
from cogs.coping._views import plan_button_view

MODAL_ID = "kindred:checkin:modal"


class CheckInModal(discord.ui.Modal, title="Daily check-in"):
    """The check-in form: mood, craving and a private note."""

    mood: discord.ui.TextInput[CheckInModal] = discord.ui.TextInput(
        label="Mood: 1 (really hard) to 5 (great)", custom_id="mood", placeholder="A number from 1 to 5",
        min_length=1, max_length=20)
    craving: discord.ui.TextInput[CheckInModal] = discord.ui.TextInput(
        label="Craving: 0 (none) to 10 (very strong)", custom_id="craving", placeholder="Optional",
        required=False, max_length=20)
    note: discord.ui.TextInput[CheckInModal] = discord.ui.TextInput(
        label="A private note (only you see it)", custom_id="note", style=discord.TextStyle.paragraph,
        placeholder="Optional — anything you'd like to remember about today", required=False, max_length=500)

    def __init__(self) -> None:
        super().__init__(custom_id=MODAL_ID, timeout=None)

    # on_submit is deliberately the default no-op: see the module docstring.


async def handle_modal_submit(service: CheckInService, interaction: discord.Interaction) -> None:
    """Validate and store a check-in from the modal exactly as `/checkin` does, then reply privately."""
    if interaction.guild_id is None:
        await send_ephemeral(interaction, NEED_GUILD)
        return
    values = modal_values(cast("Mapping[str, Any]", interaction.data or {}))
    try:
        result = await service.check_in(interaction.guild_id, interaction.user.id, mood=values.get("mood", ""),
                                        craving=values.get("craving"), note=values.get("note"))
    except Exception as error:  # every failure gets a kind reply; faults are logged by report_interaction_error
        await report_interaction_error(interaction, error, "check-in modal")
        return
    await send_checkin_reply(interaction, result)


async def send_checkin_reply(interaction: discord.Interaction, result: CheckInResult) -> None:
    """Reply to a committed check-in; on a hard day with a plan, with the button that shows it."""
    if result.has_plan:
        await send_ephemeral(interaction, checkin_reply(result), view=plan_button_view())
    else:
        await send_ephemeral(interaction, checkin_reply(result))


class PromptButtons(discord.ui.View):
    """The persistent buttons under every daily prompt."""

    def __init__(self, service: CheckInService) -> None:
        super().__init__(timeout=None)
        self.service = service

    @discord.ui.button(label="Check in", emoji="📝", style=discord.ButtonStyle.primary, custom_id=CHECKIN_BUTTON_ID)
    async def check_in(self, interaction: discord.Interaction, button: discord.ui.Button[PromptButtons]) -> None:
        """Open the check-in form."""
        if interaction.guild_id is None:
            await send_ephemeral(interaction, NEED_GUILD)
            return
        await interaction.response.send_modal(CheckInModal())

    @discord.ui.button(label="Today's pledge", emoji="🤝", style=discord.ButtonStyle.success, custom_id=PLEDGE_BUTTON_ID)
    async def pledge(self, interaction: discord.Interaction, button: discord.ui.Button[PromptButtons]) -> None:
        """Record today's pledge."""
        if interaction.guild_id is None:
            await send_ephemeral(interaction, NEED_GUILD)
            return
        result = await self.service.pledge(interaction.guild_id, interaction.user.id)
        await send_ephemeral(interaction, pledge_reply(result))

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[Any]) -> None:
        """Answer kindly instead of letting the interaction fail silently."""
        await report_interaction_error(interaction, error, f"button {getattr(item, 'custom_id', '?')}")
